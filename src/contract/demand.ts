// Demand-driven pools (issue 13) in the HTTP API: a preset's autoscale policy, replace-ahead and rollout
// settings (prewarm-side, per template and preset name), and its idle cost. Added to `Preset` as optional
// fields (the server always sends them) and set through the routes in api.ts (owners only).
import { Type } from "@sinclair/typebox";
import { Nullable, StringEnum } from "./common.js";

export const AutoscalePolicy = Type.Object(
  {
    min: Type.Integer({ minimum: 0, maximum: 10_000 }),
    max: Type.Integer({ minimum: 0, maximum: 10_000 }),
    targetHitRate: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    /** The calendar's IANA timezone; in responses the one in force (the policy's, the schedule's, or UTC). */
    timezone: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
  },
  { title: "AutoscalePolicy" },
);

export const Rollout = StringEnum(
  ["surge", "replace"],
  "surge: the old version's pool stays until the new one's is eligible",
);

/** "auto" (the p90 of measured create → eligible times) or whole seconds (0: off). */
export const ReplaceAheadSetting = Type.Union([Type.Literal("auto"), Type.Integer({ minimum: 0 })]);

export const ReplaceAhead = Type.Object({
  /** The preset's own setting; null: the server's `--replace-ahead`. */
  setting: Nullable(ReplaceAheadSetting),
  /** The setting in force, resolved: the lead in seconds (0: off, e.g. `auto` before any build was measured). */
  seconds: Type.Number({ minimum: 0 }),
});

export const PresetSettingsRequest = Type.Object({
  /** null: back to the server's default. */
  replaceAhead: Type.Optional(Nullable(ReplaceAheadSetting)),
  /** null: back to the default (surge). */
  rollout: Type.Optional(Nullable(Rollout)),
});

/** Idle prebuilds' time and cost (their resources' `daily_cost`), over the last 24 hours and 7 days. */
export const PresetCost = Type.Object(
  {
    /** What one prebuild costs per day (its resources' `daily_cost`: the latest build, else the import's). */
    dailyCostPerPrebuild: Type.Number(),
    idleHours24h: Type.Number(),
    idleCost24h: Type.Number(),
    idleHours7d: Type.Number(),
    idleCost7d: Type.Number(),
    /** Prebuilds handed to users. */
    claims24h: Type.Integer(),
    claims7d: Type.Integer(),
    /** Idle cost / claims; null without claims. */
    costPerClaim24h: Nullable(Type.Number()),
    costPerClaim7d: Nullable(Type.Number()),
    /** Prebuilds that ended unclaimed (deleted as expired, extraneous, outdated, …). */
    wasted24h: Type.Integer(),
    wasted7d: Type.Integer(),
  },
  { title: "PresetCost" },
);
