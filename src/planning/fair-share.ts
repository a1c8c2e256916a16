// How one cycle's creations are shared among the presets that want some (§5 rule 10, issue 17): fairly over
// time, not first come first served. Pure.
//
// Creations are dealt one at a time, each to the preset whose pool is the least full — lowest
// (eligible + starting + covered + granted so far) / desired, `covered` being outdated prebuilds a surge
// rollout keeps claimable for it — so an empty pool always goes before a nearly full one, however big the
// latter is. Ties go to the preset first at or after a cursor that rotates across cycles (`rotation`), so equal
// pools take turns instead of the first in snapshot order winning every cycle. Two phases: first the
// creations that REFILL a pool (it has fewer than desired), then the ones that only run ahead (replace-ahead of
// prebuilds about to expire, a surge rollout's new pool while the old one still serves claims).
//
// Each creation takes one from `creations` and `prebuilds` and its `dailyCost` from `idleCostPerDay`. A preset
// whose next creation does not fit a ceiling stops there and is named (a cheaper preset may still get one);
// nobody gets one when `creations` runs out (the in-flight cap is not named: jobs end soon).

/** A ceiling that left a preset fewer creations than it wanted. */
export type CeilingName = "max_prebuilds" | "max_idle_cost";

export interface CreationAsk {
  /** The preset's position in the snapshot (ties rotate over it). */
  index: number;
  desired: number;
  /** What the pool has or will have without this cycle: eligible + starting + covered. */
  have: number;
  /** Creations wanted in all, and how many of them refill the pool (the rest run ahead). */
  wanted: number;
  refill: number;
  /** What each creation adds to the idle cost per day. */
  dailyCost: number;
}

/** What is left to deal this cycle; null: unlimited. */
export interface DealBudgets {
  creations: number | null;
  prebuilds: number | null;
  idleCostPerDay: number | null;
}

export interface Dealt {
  granted: number;
  /** The ceiling that stopped this preset short of `wanted`. */
  limitedBy: CeilingName | null;
}

interface Entry {
  id: string;
  ask: CreationAsk;
  /** Tie order: the position counted from the rotation cursor. */
  turn: number;
  /** The preset's result, kept on the entry: the heap compares fullness on every step of every creation. */
  dealt: Dealt;
  /** (have + granted) / max(1, desired), updated with every creation granted. */
  fullness: number;
}

const before = (a: Entry, b: Entry): boolean => {
  const d = a.fullness - b.fullness;
  return d !== 0 ? d < 0 : a.turn < b.turn;
};

/** Deals the budgets over the asks; see the file header. `presets` is the snapshot's preset count. */
export function dealCreations(
  asks: ReadonlyMap<string, CreationAsk>,
  budgets: DealBudgets,
  rotation: number,
  presets: number,
): Map<string, Dealt> {
  const dealt = new Map<string, Dealt>();
  const left = {
    creations: budgets.creations === null ? Number.POSITIVE_INFINITY : Math.max(0, budgets.creations),
    prebuilds: budgets.prebuilds === null ? Number.POSITIVE_INFINITY : Math.max(0, budgets.prebuilds),
    cost: budgets.idleCostPerDay === null ? Number.POSITIVE_INFINITY : Math.max(0, budgets.idleCostPerDay),
  };
  const n = Math.max(1, presets);
  const start = ((rotation % n) + n) % n;
  const entries: Entry[] = [];
  for (const [id, ask] of asks) {
    const d: Dealt = { granted: 0, limitedBy: null };
    dealt.set(id, d);
    const fullness = ask.have / Math.max(1, ask.desired);
    entries.push({ id, ask, turn: (ask.index - start + n) % n, dealt: d, fullness });
  }
  for (const phase of ["refill", "ahead"] as const) {
    const limit = (e: Entry) => (phase === "refill" ? e.ask.refill : e.ask.wanted);
    const heap = new MinHeap<Entry>(before);
    for (const e of entries) if (e.dealt.granted < limit(e)) heap.push(e);
    while (left.creations > 0) {
      const e = heap.pop();
      if (!e) break;
      const d = e.dealt;
      if (d.limitedBy !== null) continue;
      if (left.prebuilds < 1) {
        d.limitedBy = "max_prebuilds";
        continue;
      }
      if (e.ask.dailyCost > left.cost) {
        d.limitedBy = "max_idle_cost";
        continue;
      }
      d.granted++;
      e.fullness = (e.ask.have + d.granted) / Math.max(1, e.ask.desired);
      left.creations--;
      left.prebuilds--;
      left.cost -= e.ask.dailyCost;
      if (d.granted < limit(e)) heap.push(e);
    }
  }
  return dealt;
}

/** A binary min-heap by `before` (keys change only for the popped entry, which is pushed back). */
class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(readonly before: (a: T, b: T) => boolean) {}

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.before(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.before(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        const swap = items[i]!;
        items[i] = items[m]!;
        items[m] = swap;
        i = m;
      }
    }
    return top;
  }
}
