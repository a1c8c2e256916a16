// The reconciler's tunables in one place: the planner's (backoff interval, failed retention) and the snapshot's
// (failure look-back, hard limit), with their defaults (ARCHITECTURE §5 rules 4, 6 and 7).
import { defaultPlanSettings, type PlanSettings } from "../../planning/plan.js";
import { defaultSnapshotSettings, type SnapshotSettings } from "./snapshot.js";

export interface ReconcilerSettings extends PlanSettings, SnapshotSettings {}

export const defaultReconcilerSettings: ReconcilerSettings = {
  ...defaultPlanSettings,
  ...defaultSnapshotSettings,
};
