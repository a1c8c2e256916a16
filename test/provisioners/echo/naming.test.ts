import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  MetadataSchema,
  PrebuiltWorkspaceBuildStage,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
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
      name: "a claim prefers claim files, then start files, then generic ones, index by index",
      files: [
        "0.claim.apply.json",
        "0.start.apply.json",
        "1.start.apply.json",
        "2.apply.json",
        "3.stop.apply.json",
      ],
      transition: "claim",
      op: "apply",
      want: ["0.claim.apply.json", "1.start.apply.json", "2.apply.json"],
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

  test("the start build that claims a prebuild is `claim`; its other builds keep their names", () => {
    const claim = (t: WorkspaceTransition) =>
      create(MetadataSchema, {
        workspaceTransition: t,
        prebuiltWorkspaceBuildStage: PrebuiltWorkspaceBuildStage.CLAIM,
      });
    assert.equal(echoTransitionName("apply", claim(WorkspaceTransition.START)), "claim");
    assert.equal(echoTransitionName("plan", claim(WorkspaceTransition.START)), "claim");
    assert.equal(echoTransitionName("parse", claim(WorkspaceTransition.START)), "unspecified");
    assert.equal(echoTransitionName("apply", claim(WorkspaceTransition.STOP)), "stop");
    const create_ = create(MetadataSchema, {
      workspaceTransition: WorkspaceTransition.START,
      prebuiltWorkspaceBuildStage: PrebuiltWorkspaceBuildStage.CREATE,
    });
    assert.equal(echoTransitionName("apply", create_), "start");
  });
});
