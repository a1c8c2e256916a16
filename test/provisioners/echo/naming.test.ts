import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { MetadataSchema, WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import { echoTransitionName, selectEchoFiles } from "../../../src/provisioners/echo/naming.js";

describe("echo file selection", () => {
  const cases: Array<{
    name: string;
    files: string[];
    transition: string;
    op: "parse" | "plan" | "apply";
    want: string[];
  }> = [
    {
      name: "generic files in index order",
      files: ["1.plan.protobuf", "0.plan.protobuf"],
      transition: "start",
      op: "plan",
      want: ["0.plan.protobuf", "1.plan.protobuf"],
    },
    {
      name: "transition-specific file wins over generic at the same index",
      files: ["0.plan.protobuf", "0.stop.plan.protobuf", "1.plan.protobuf"],
      transition: "stop",
      op: "plan",
      want: ["0.stop.plan.protobuf", "1.plan.protobuf"],
    },
    {
      name: "another transition's files are not used",
      files: ["0.stop.apply.protobuf", "0.apply.protobuf"],
      transition: "destroy",
      op: "apply",
      want: ["0.apply.protobuf"],
    },
    {
      name: ".protobuf wins over .json for one name",
      files: ["0.apply.json", "0.apply.protobuf"],
      transition: "start",
      op: "apply",
      want: ["0.apply.protobuf"],
    },
    {
      name: "transition-specific .json wins over generic .protobuf",
      files: ["0.start.apply.json", "0.apply.protobuf"],
      transition: "start",
      op: "apply",
      want: ["0.start.apply.json"],
    },
    {
      name: "stops at the first missing number",
      files: ["0.parse.protobuf", "1.parse.json", "3.parse.protobuf"],
      transition: "unspecified",
      op: "parse",
      want: ["0.parse.protobuf", "1.parse.json"],
    },
    {
      name: "no file 0 selects nothing",
      files: ["1.plan.protobuf", "README.md"],
      transition: "start",
      op: "plan",
      want: [],
    },
    {
      name: "other operations' files are not used",
      files: ["0.apply.protobuf", "0.parse.protobuf"],
      transition: "start",
      op: "plan",
      want: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(selectEchoFiles(new Set(c.files), c.transition, c.op), c.want);
    });
  }
});

describe("echo transition names", () => {
  const cases: Array<{
    name: string;
    op: "parse" | "plan" | "apply";
    transition?: WorkspaceTransition;
    want: string;
  }> = [
    {
      name: "parse always uses unspecified",
      op: "parse",
      transition: WorkspaceTransition.STOP,
      want: "unspecified",
    },
    { name: "missing metadata means start", op: "plan", want: "start" },
    { name: "STOP", op: "plan", transition: WorkspaceTransition.STOP, want: "stop" },
    { name: "DESTROY", op: "apply", transition: WorkspaceTransition.DESTROY, want: "destroy" },
    {
      name: "unknown future value uses its number",
      op: "apply",
      transition: 7 as WorkspaceTransition,
      want: "7",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const metadata =
        c.transition === undefined
          ? undefined
          : create(MetadataSchema, { workspaceTransition: c.transition });
      assert.equal(echoTransitionName(c.op, metadata), c.want);
    });
  }
});
