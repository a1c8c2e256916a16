// Durations on the command line, in config and in query strings: "500ms", "15s", "1m", "24h", "1h30m", or "0".
// Returns milliseconds; throws a message naming the input when it is not a duration. A bare number other than
// 0 is refused: `--reconcile-interval 15` once meant 15 ms to the parser and 15 s to the person typing it.
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(input: string): number {
  const text = input.trim();
  if (/^0+$/.test(text)) return 0;
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    throw new Error(`invalid duration "${input}": give a unit (e.g. ${text}s, ${text}m or ${text}ms)`);
  }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length) {
    throw new Error(`invalid duration "${input}" (use e.g. 500ms, 15s, 1m, 24h)`);
  }
  return Math.round(total);
}

/** 90061000 → "1d1h1m1s"; 1500 → "1.5s"; for messages and tables. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))}s`;
  let rest = Math.round(ms / 1_000);
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
