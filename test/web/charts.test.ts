// The dashboard's SVG charts are pure functions of their data: positions follow the numbers, and each chart
// says in words what it shows.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { demandChart, historyChart, poolBar, waterfall } from "../../src/server/web/charts.js";
import { chartWindowMs } from "../../src/server/web/pages/pools.js";

const NOW = new Date("2026-01-05T10:00:00Z");
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);
const widths = (svg: string) =>
  [...svg.matchAll(/<rect x="[^"]+" y="2" width="([^"]+)" height="14" fill="(#[0-9a-f]+)"/g)].map((m) => [
    Number(m[1]),
    m[2],
  ]);

describe("pool bar", () => {
  test("GIVEN pool counts THEN segments are proportional on a scale fitting desired and actual", () => {
    const table = [
      // 3 desired, 2 eligible, 1 starting: scale 3 → 100 px per prebuild
      {
        counts: { desired: 3, running: 2, eligible: 2, expired: 0, starting: 1 },
        segments: [
          [200, "#2da44e"],
          [100, "#c8ced6"],
        ],
      },
      // over-provisioned: 2 desired, 4 running (1 expired, 1 not ready): scale 4 → 75 px
      {
        counts: { desired: 2, running: 4, eligible: 2, expired: 1, starting: 0 },
        segments: [
          [150, "#2da44e"],
          [75, "#54aeff"],
          [75, "#d4a72c"],
        ],
      },
      { counts: { desired: 0, running: 0, eligible: 0, expired: 0, starting: 0 }, segments: [] },
    ];
    for (const row of table) {
      const svg = poolBar(row.counts).value;
      assert.deepEqual(widths(svg).slice(1), row.segments, JSON.stringify(row.counts));
      assert.match(svg, new RegExp(`aria-label="${row.counts.eligible} eligible`));
    }
  });
});

describe("history chart", () => {
  test("GIVEN samples THEN step lines end at now with the last value, and the label states it", () => {
    const points = [
      { at: minutesAgo(60), desired: 2, running: 0, eligible: 0 },
      { at: minutesAgo(30), desired: 2, running: 2, eligible: 1 },
    ];
    const svg = historyChart(points, NOW, 2 * 3_600_000).value;
    const eligible = /stroke="#2da44e" stroke-width="2" points="([^"]+)"/.exec(svg)?.[1] ?? "";
    const coords = eligible.split(" ").map((p) => p.split(",").map(Number));
    // plot: x from 26 to 316 (290 px) over 2 h; y from 6 (max 2) to 94 (0)
    assert.deepEqual(coords, [
      [171, 94],
      [243.5, 94],
      [243.5, 50],
      [316, 50],
    ]);
    assert.match(svg, /aria-label="last 2h: now 2 desired, 2 running, 1 eligible; peak 2"/);
  });

  test("GIVEN no samples THEN it says so instead of drawing lines", () => {
    const svg = historyChart([], NOW, 3_600_000).value;
    assert.doesNotMatch(svg, /polyline/);
    assert.match(svg, /no samples yet/);
  });

  test("GIVEN a young or old history THEN the window spans it, between 10 minutes and 3 hours", () => {
    const sample = (m: number) => ({
      at: minutesAgo(m),
      desired: 1,
      running: 1,
      eligible: 1,
      starting: 0,
      expired: 0,
    });
    const table = [
      { history: [], minutes: 10 },
      { history: [sample(1)], minutes: 10 },
      { history: [sample(25)], minutes: 30 },
      { history: [sample(500)], minutes: 180 },
    ];
    for (const row of table) assert.equal(chartWindowMs(row.history, NOW) / 60_000, row.minutes);
  });
});

describe("demand chart", () => {
  const claimsAt = (...minutes: number[]) => minutes.map((m) => minutesAgo(m).getTime());
  test("GIVEN claims and desired changes THEN claims are counted per 10 minutes and desired steps to now", () => {
    const desired = [
      { at: minutesAgo(240), desired: 1 },
      { at: minutesAgo(90), desired: 4 },
    ];
    // two claims in the first bucket, one in the last; one before the window and one at now are left out
    const svg = demandChart(desired, claimsAt(200, 175, 172, 5, 0), NOW, 3 * 3_600_000).value;
    // plot: x from 26 to 316 (290 px) over 3 h in 18 buckets; y from 6 (max 4) to 74 (0), 17 px per unit
    const bars = [...svg.matchAll(/<rect x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"/g)].map(
      (m) => m.slice(1).map(Number),
    );
    assert.deepEqual(bars, [
      [27, 40, 14.1, 34],
      [300.9, 57, 14.1, 17],
    ]);
    const line = /<polyline [^>]*points="([^"]+)"/.exec(svg)?.[1];
    // a desired change before the window starts at its left edge
    assert.equal(line, "26,57 171,57 171,6 316,6");
    assert.match(
      svg,
      /aria-label="last 180 minutes: 3 claims \(bars, per 10 minutes\), desired now 4 \(line\)"/,
    );
  });

  test("GIVEN no desired samples and no claims THEN no line, no bars, and the label says desired is unknown", () => {
    const svg = demandChart([], [], NOW, 3 * 3_600_000).value;
    assert.doesNotMatch(svg, /polyline|<rect/);
    assert.match(svg, /0 claims .* desired now unknown/);
  });
});

describe("timings waterfall", () => {
  test("GIVEN spans THEN each starts at its offset from the first and is as wide as its duration", () => {
    const t = (ms: number) => new Date(NOW.getTime() + ms);
    const svg = waterfall([
      { stage: "plan", action: "", resource: "", startedAt: t(0), endedAt: t(1_000) },
      { stage: "apply", action: "create", resource: "a.b", startedAt: t(1_000), endedAt: t(4_000) },
    ]).value;
    const bars = [...svg.matchAll(/<rect x="([^"]+)" y="[^"]+" width="([^"]+)"/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    // label column 210 px, plot 340 px over 4 s
    assert.deepEqual(bars, [
      [210, 85],
      [295, 255],
    ]);
    assert.match(svg, /2 spans over 4000 ms/);
    assert.match(waterfall([]).value, /No timings/);
  });
});
