// The workspace page's buttons follow the latest build, and its state is worded as the CLI words it (one rule:
// contract/workspace-state.ts, imported by both).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { workspaceState as cliState } from "../../src/cli/output.js";
import { type Transition, workspaceState } from "../../src/contract/workspace-state.js";
import { stateBadge, workspaceActions } from "../../src/server/web/pages/workspaces.js";

describe("workspace actions and state", () => {
  const table: Array<{ transition: Transition; status: string; actions: string[]; state: string }> = [
    { transition: "start", status: "pending", actions: ["cancel"], state: "starting" },
    { transition: "start", status: "running", actions: ["cancel"], state: "starting" },
    { transition: "stop", status: "running", actions: ["cancel"], state: "stopping" },
    { transition: "delete", status: "pending", actions: ["cancel"], state: "deleting" },
    { transition: "start", status: "canceling", actions: [], state: "canceling" },
    { transition: "start", status: "succeeded", actions: ["stop", "delete"], state: "running" },
    { transition: "stop", status: "succeeded", actions: ["start", "delete"], state: "stopped" },
    { transition: "delete", status: "succeeded", actions: [], state: "deleted" },
    { transition: "start", status: "failed", actions: ["start", "stop", "delete"], state: "failed" },
    { transition: "delete", status: "failed", actions: ["start", "stop", "delete"], state: "failed" },
    { transition: "start", status: "canceled", actions: ["start", "stop", "delete"], state: "canceled" },
  ];
  test("GIVEN each latest build THEN the page offers its actions and shows the CLI's state", () => {
    for (const row of table) {
      const label = `${row.transition} ${row.status}`;
      assert.deepEqual(workspaceActions(row), row.actions, label);
      assert.equal(workspaceState(row), row.state, label);
      assert.equal(cliState(row), row.state, label);
      assert.match(stateBadge(row).value, new RegExp(`>${row.state}<`), label);
    }
  });
});
