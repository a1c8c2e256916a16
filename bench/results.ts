// Structured results of one benchmark, for the table `npm run bench` prints (scripts/run-bench.js). Every bench
// prints its own detailed report; each headline measure is also recorded here, and when PREWARM_BENCH_RESULTS
// names a file (run-bench sets it) appended to it as one JSON line, so the runner never parses human output.
import { appendFileSync } from "node:fs";

export interface BenchResult {
  /** What was measured, with its conditions ("claim p99, 64 concurrent, postgres"). */
  measure: string;
  value: number;
  unit: string;
  /** The floor measured in the same run, in the same unit (absent where a measure has none). */
  floor?: number;
  /** The figure the goal is about: value/floor, or a ratio the bench defines (say which in `measure`). */
  ratio?: number;
  /** The goal on `ratio`, as the issue states it ("≤ 2", "≥ 0.5"); absent when none is set. */
  goal?: string;
}

export function record(result: BenchResult): void {
  const file = process.env.PREWARM_BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
}
