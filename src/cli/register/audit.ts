// `prewarm audit list`: arguments and options; the implementation loads from ../commands/audit.ts when it runs.
import type { Command } from "commander";
import type { AuditListOptions } from "../commands/audit.js";
import { withApiOptions } from "../options.js";

const audit = () => import("../commands/audit.js");

export function registerAuditCommands(program: Command): void {
  const group = program.command("audit").description("Read the audit log (owners only)");
  withApiOptions(
    group
      .command("list")
      .alias("ls")
      .description("Audit log entries, newest first")
      .option("--action <action>", "only this action, e.g. template.push or user.login")
      .option("--actor <username>", "only actions by this user")
      .option("--since <time>", "only entries since an ISO-8601 time or a duration back from now (24h, 7d)")
      .option("--limit <n>", "at most this many entries (default 100)"),
  ).action(async (o: AuditListOptions) => (await audit()).listAudit(o));
}
