// The pools table's rules, apart from rendering and I/O: which columns sort and by what value, how the sort is
// read from and written to the URL (sorting is a link, so it works without JavaScript and the 2 s refresh keeps
// it), and how bad a pool's state is (the Status column sorts by it, worst first, and a pool in trouble gets a
// problem row under it).

/** Sortable columns, as they appear in `?sort=`. */
export const SORT_KEYS = [
  "pool",
  "status",
  "eligible",
  "desired",
  "running",
  "starting",
  "expired",
  "hitrate",
  "cost",
  "failures",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = "asc" | "desc";

export interface PoolSort {
  key: SortKey;
  dir: SortDir;
}

/** Template, then preset, A→Z: a stable order that does not jump as pools fill. */
export const DEFAULT_SORT: PoolSort = { key: "pool", dir: "asc" };

/** What the rules need of a pool (PoolRow has it all). */
export interface SortablePool {
  template: string;
  preset: string;
  templateVersion: string;
  severity: number;
  eligible: number;
  desired: number;
  running: number;
  starting: number;
  expired: number;
  hits: number;
  misses: number;
  /** Idle cost over 24 h; null: no prebuilds yet. */
  cost24h: number | null;
  failures: number;
}

const isKey = (v: unknown): v is SortKey =>
  typeof v === "string" && (SORT_KEYS as readonly string[]).includes(v);

/** `?sort=KEY&dir=asc|desc` → a sort; anything unknown falls back to the default (never an error). */
export function parseSort(query: Record<string, unknown> | undefined): PoolSort {
  const key = isKey(query?.sort) ? query.sort : DEFAULT_SORT.key;
  const dir = query?.dir === "desc" ? "desc" : query?.dir === "asc" ? "asc" : defaultDir(key);
  return { key, dir };
}

/** Names read A→Z and the status worst-first ascending; counts, rates, costs and failures largest first. */
function defaultDir(key: SortKey): SortDir {
  return key === "pool" || key === "status" ? "asc" : "desc";
}

/** The query string of a sort (the section's refresh URL carries it, so a refresh keeps the order). */
export const queryOf = (sort: PoolSort): string => `?sort=${sort.key}&dir=${sort.dir}`;

/** The query string of a column header's link: the same column again flips the direction. */
export function sortQuery(current: PoolSort, key: SortKey): string {
  const dir = current.key === key ? (current.dir === "asc" ? "desc" : "asc") : defaultDir(key);
  return queryOf({ key, dir });
}

/** Claims served warm in the window; null without claims (sorts after every rate, in both directions). */
export const hitRate = (p: Pick<SortablePool, "hits" | "misses">): number | null =>
  p.hits + p.misses === 0 ? null : p.hits / (p.hits + p.misses);

function value(p: SortablePool, key: SortKey): number | string | null {
  switch (key) {
    case "pool":
      return `${p.template}\u0000${p.preset}\u0000${p.templateVersion}`;
    case "status":
      // Ascending = worst first.
      return -p.severity;
    case "hitrate":
      return hitRate(p);
    case "cost":
      return p.cost24h;
    default:
      return p[key];
  }
}

/**
 * Sorts items by what `view` says of them; ties fall back to the pool's name (A→Z), and a missing value (no
 * claims, no cost yet) goes last in both directions.
 */
export function sortPools<T>(items: readonly T[], sort: PoolSort, view: (item: T) => SortablePool): T[] {
  const sign = sort.dir === "asc" ? 1 : -1;
  const byName = (a: SortablePool, b: SortablePool) => compare(value(a, "pool"), value(b, "pool"));
  return items
    .map((item) => ({ item, v: view(item) }))
    .sort((a, b) => {
      const x = value(a.v, sort.key);
      const y = value(b.v, sort.key);
      if (x === null || y === null) return x === y ? byName(a.v, b.v) : x === null ? 1 : -1;
      return sign * compare(x, y) || byName(a.v, b.v);
    })
    .map((e) => e.item);
}

function compare(a: number | string | null, b: number | string | null): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  // Natural order: "pool-2" before "pool-10".
  return String(a).localeCompare(String(b), "en", { numeric: true });
}

/** What a pool's state says, for the severity and the problem row. */
export interface PoolHealth {
  status: "healthy" | "hard_limited" | "validation_failed";
  backingOff: boolean;
  eligible: number;
  desired: number;
  /** Failed creations since the last successful one. */
  failures: number;
  /** Claims rebuild instead of handing over (rehearsal or real claims). */
  claimsRebuild: boolean;
}

/** 4 validation failed, 3 hard-limited, 2 backing off or failing, 1 filling or claims rebuild, 0 full. */
export function severity(h: PoolHealth): number {
  if (h.status === "validation_failed") return 4;
  if (h.status === "hard_limited") return 3;
  if (h.backingOff || h.failures > 0) return 2;
  if (h.eligible < h.desired || h.claimsRebuild) return 1;
  return 0;
}

/** A pool gets a problem row (last error, failures, actions) when it cannot fill by itself or claims rebuild. */
export const hasProblem = (h: PoolHealth): boolean =>
  h.status !== "healthy" || h.backingOff || h.failures > 0 || h.claimsRebuild;
