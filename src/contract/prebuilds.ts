// Prebuild operations: reconciler status and control, invalidation, resuming a preset, the live plan.
// The plan's shape is ARCHITECTURE §5's offline plan output, plus names so a live plan is readable.
import { Type } from "@sinclair/typebox";
import { Nullable, NullableTimestamp, PresetStatus, StringEnum } from "./common.js";
import { PrebuildCounts } from "./templates.js";

export const PrebuildsPresetStatus = Type.Object({
  presetId: Type.String(),
  template: Type.String(),
  templateVersion: Type.String(),
  preset: Type.String(),
  active: Type.Boolean(),
  status: PresetStatus,
  desiredInstances: Nullable(Type.Integer()),
  ttlSeconds: Nullable(Type.Integer()),
  prebuilds: PrebuildCounts,
  /** Creation waits until then after failures (§5 rule 6); null when not backing off. */
  backoffUntil: NullableTimestamp,
});

export const PrebuildsStatus = Type.Object(
  {
    paused: Type.Boolean(),
    reconcileIntervalSeconds: Type.Number(),
    lastReconcileAt: NullableTimestamp,
    lastReconcileDurationMs: Nullable(Type.Number()),
    /** Prebuild jobs pending or running now, and the cap on them. */
    inFlightJobs: Type.Integer(),
    maxInFlightJobs: Type.Integer(),
    /** Presets that declare prebuilds or still have some. */
    presets: Type.Array(PrebuildsPresetStatus),
  },
  { title: "PrebuildsStatus" },
);

export const PrebuildsSettings = Type.Object({ paused: Type.Boolean() }, { title: "PrebuildsSettings" });

export const InvalidateResponse = Type.Object({
  invalidated: Type.Array(
    Type.Object({ template: Type.String(), templateVersion: Type.String(), preset: Type.String() }),
  ),
});

export const PlanState = Type.Object({
  desired: Type.Integer(),
  running: Type.Integer(),
  expired: Type.Integer(),
  eligible: Type.Integer(),
  extraneous: Type.Integer(),
  starting: Type.Integer(),
  stopping: Type.Integer(),
  deleting: Type.Integer(),
  /** With replace-ahead on: non-expired prebuilds that expire within the lead (their replacements start). */
  expiringSoon: Type.Optional(Type.Integer()),
});

export const PlanAction = Type.Union([
  Type.Object({ type: Type.Literal("set_status"), status: StringEnum(["hard_limited"]) }),
  /** A plan-only rehearsal of a claim of this prebuild (once per preset; see docs/prebuilds-operations.md). */
  Type.Object({ type: Type.Literal("rehearse_claim"), prebuildId: Type.String() }),
  Type.Object({
    type: Type.Literal("delete"),
    reason: StringEnum(["expired", "extraneous", "stopped", "failed", "outdated"]),
    ids: Type.Array(Type.String()),
  }),
  Type.Object({ type: Type.Literal("cancel_pending") }),
  Type.Object({
    type: Type.Literal("create"),
    /** What this cycle starts (= granted). */
    count: Type.Integer({ minimum: 0 }),
    /** With an in-flight cap (always, live): what the preset needs, and what the cap lets this cycle start. */
    wanted: Type.Optional(Type.Integer({ minimum: 1 })),
    granted: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The server-wide ceiling that left the preset fewer than it wanted. */
    limitedBy: Type.Optional(StringEnum(["max_prebuilds", "max_idle_cost"])),
  }),
  Type.Object({ type: Type.Literal("backoff"), until: Type.String({ format: "date-time" }) }),
  Type.Object({ type: Type.Literal("blocked"), reason: StringEnum(["hard_limited", "validation_failed"]) }),
]);

export const PlanPreset = Type.Object({
  id: Type.String(),
  /** Present in the live plan; absent in `--snapshot` output. */
  template: Type.Optional(Type.String()),
  templateVersion: Type.Optional(Type.String()),
  preset: Type.Optional(Type.String()),
  /** The preset's status for this cycle (after a `set_status`); present in the live plan. */
  status: Type.Optional(PresetStatus),
  state: PlanState,
  actions: Type.Array(PlanAction),
  /** Why `state.desired` is what it is (live plan: every preset; `--snapshot`: autoscaled presets). */
  desiredReason: Type.Optional(Type.String()),
});

export const Plan = Type.Object(
  {
    now: Type.Optional(Type.String({ format: "date-time" })),
    /** Live plan only: while paused the plan is what would run once resumed; nothing runs. */
    paused: Type.Optional(Type.Boolean()),
    /** Live plan only: prebuild jobs in flight, the cap, and the creations the cap leaves this cycle. */
    inFlightJobs: Type.Optional(Type.Integer()),
    maxInFlightJobs: Type.Optional(Nullable(Type.Integer())),
    creationBudget: Type.Optional(Nullable(Type.Integer())),
    /** Live plan only: the server-wide ceilings (null: none) and what the prebuilds held use of them. */
    ceilings: Type.Optional(
      Type.Object({
        maxPrebuilds: Nullable(Type.Integer()),
        maxIdleCostPerDay: Nullable(Type.Number()),
        prebuilds: Type.Integer(),
        idleCostPerDay: Type.Number(),
      }),
    ),
    presets: Type.Array(PlanPreset),
  },
  { title: "Plan" },
);
