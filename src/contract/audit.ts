// The audit log's contract: the one list of audited action names (the server's action sites, the API's
// query validation, the CLI and the dashboard's filter all read it), an entry as the API answers it, and the
// query of `GET /audit`.
import { type Static, Type } from "@sinclair/typebox";
import { Nullable, StringEnum, Timestamp } from "./common.js";

/** Every audited action. Add names at the end; never rename one (stored rows and scripts carry them). */
export const AUDIT_ACTIONS = [
  "user.create",
  "user.role",
  "user.login",
  "token.create",
  "token.revoke",
  "template.push",
  "template.activate",
  "template.deprecate",
  "template.delete",
  "prebuilds.pause",
  "prebuilds.resume",
  "prebuilds.invalidate",
  "preset.resume",
  "preset.settings",
  "workspace.delete",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_OUTCOMES = ["success", "failure"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const isAuditAction = (s: string): s is AuditAction =>
  (AUDIT_ACTIONS as readonly string[]).includes(s);

export const AuditEntry = Type.Object(
  {
    time: Timestamp,
    /** The acting user's name when the action ran (kept if the user is renamed or deleted); null: unknown. */
    actor: Nullable(Type.String()),
    action: StringEnum(AUDIT_ACTIONS),
    /** What the action was done to, `kind/name`: e.g. "template/echo-demo", "preset/echo-demo/small". */
    target: Type.String(),
    outcome: StringEnum(AUDIT_OUTCOMES),
    /** Action-specific facts (never a secret); e.g. a failed login's attempted username, a version name. */
    detail: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: "AuditEntry" },
);
export type AuditEntryT = Static<typeof AuditEntry>;

/** Most entries one page answers, and the default. */
export const AUDIT_LIMIT_MAX = 1000;
export const AUDIT_LIMIT_DEFAULT = 100;

export const AuditQuery = Type.Object({
  // A plain string, checked by the handler: a 400 then names the unknown action and lists the known ones.
  action: Type.Optional(Type.String({ description: `one of: ${AUDIT_ACTIONS.join(", ")}` })),
  actor: Type.Optional(Type.String({ minLength: 1, description: "a username (case-insensitive)" })),
  since: Type.Optional(
    Type.String({
      minLength: 1,
      description: "an ISO-8601 timestamp, or a duration back from now: 30m, 24h, 7d",
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_LIMIT_MAX, default: AUDIT_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ minLength: 1, description: "`nextCursor` of the previous page" })),
});

export const AuditPage = Type.Object(
  {
    /** Newest first. */
    entries: Type.Array(AuditEntry),
    /** Pass as `cursor` for the next (older) page; null when this page is the last. */
    nextCursor: Nullable(Type.String()),
  },
  { title: "AuditPage" },
);
export type AuditPageT = Static<typeof AuditPage>;
