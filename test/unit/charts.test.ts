// The charts' arithmetic (round axis maxima and ticks, time ticks on whole steps, gaps in percentile
// lines) and what each chart renders: an accessible SVG with its numbers, or the empty state.
import { describe, expect, test } from "bun:test";
import { BarList, CallsChart, formatCount, formatMs, formatTimeTick, LatencyChart, niceMax, niceTicks, scaleLinear, segments, Sparkline, timeTicks, type SeriesPoint } from "../../views/charts.tsx";

const html = (node: unknown): string => String(node);

describe("niceMax", () => {
  test.each([
    [0, 1], [-5, 1], [Number.NaN, 1], [1, 1], [1.2, 2], [2, 2], [2.1, 2.5], [3, 5], [7, 10], [10, 10], [11, 20], [240, 250], [999, 1000], [0.3, 0.5], [0.07, 0.1],
  ])("niceMax(%p) = %p", (value, expected) => {
    expect(niceMax(value)).toBe(expected);
  });
});

describe("niceTicks", () => {
  test("round steps from 0 that cover the maximum", () => {
    expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(730)).toEqual([0, 200, 400, 600, 800]);
    expect(niceTicks(0.9)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });
  test("counts keep whole steps", () => {
    expect(niceTicks(3, { integer: true })).toEqual([0, 1, 2, 3]);
    expect(niceTicks(1, { integer: true })).toEqual([0, 1]);
    expect(niceTicks(9, { integer: true })).toEqual([0, 5, 10]);
    expect(niceTicks(0, { integer: true })).toEqual([0, 1]);
  });
  test("never more than count + 1 ticks, the last at or above the maximum", () => {
    for (const max of [1, 7, 13, 99, 101, 1234, 98765]) {
      const ticks = niceTicks(max);
      expect(ticks.length).toBeLessThanOrEqual(5);
      expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(max);
    }
  });
});

test("scaleLinear maps the domain onto the range, a flat domain to its start", () => {
  const s = scaleLinear([0, 10], [100, 0]);
  expect(s(0)).toBe(100);
  expect(s(5)).toBe(50);
  expect(s(10)).toBe(0);
  expect(scaleLinear([3, 3], [7, 9])(3)).toBe(7);
});

describe("timeTicks", () => {
  test("an hour gets ticks every 10 minutes on the minute", () => {
    const from = new Date("2026-11-29T10:03:30Z");
    const { ticks, stepMs } = timeTicks(from, new Date(from.getTime() + 3_600_000));
    expect(stepMs).toBe(600_000);
    expect(ticks.map((t) => t.toISOString().slice(11, 16))).toEqual(["10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]);
  });
  test("a day gets ticks every 6 hours, midnight labelled with its date", () => {
    const from = new Date("2026-11-28T13:20:00Z");
    const { ticks, stepMs } = timeTicks(from, new Date(from.getTime() + 86_400_000));
    expect(stepMs).toBe(6 * 3_600_000);
    expect(ticks.map((t) => formatTimeTick(t, stepMs))).toEqual(["18:00", "Nov 29", "06:00", "12:00"]);
  });
  test("30 days get dates a week apart", () => {
    const { ticks, stepMs } = timeTicks(new Date("2026-10-30T00:00:00Z"), new Date("2026-11-29T00:00:00Z"));
    expect(stepMs).toBe(7 * 86_400_000);
    expect(ticks.length).toBeLessThanOrEqual(6);
    expect(formatTimeTick(ticks[0]!, stepMs)).toMatch(/^(Oct|Nov) \d+$/);
  });
  test("an empty or reversed range has no ticks", () => {
    const t = new Date();
    expect(timeTicks(t, t).ticks).toEqual([]);
    expect(timeTicks(t, new Date(t.getTime() - 1)).ticks).toEqual([]);
  });
});

test("segments breaks a line at missing values instead of drawing them as zero", () => {
  expect(segments([{ x: 0, y: 1 }, { x: 1, y: null }, { x: 2, y: 3 }, { x: 3, y: 4 }])).toEqual([[{ x: 0, y: 1 }], [{ x: 2, y: 3 }, { x: 3, y: 4 }]]);
  expect(segments([{ x: 0, y: null }])).toEqual([]);
});

test("formatting", () => {
  expect(formatCount(950)).toBe("950");
  expect(formatCount(1234)).toBe("1.2k");
  expect(formatCount(3_400_000)).toBe("3.4M");
  expect(formatMs(null)).toBe("–");
  expect(formatMs(12.4)).toBe("12 ms");
  expect(formatMs(1500)).toBe("1.5 s");
});

const from = new Date("2026-11-29T10:00:00Z");
const to = new Date("2026-11-29T11:00:00Z");
const point = (minute: number, calls: number, errors: number, p50: number | null = null): SeriesPoint => ({
  start: new Date(from.getTime() + minute * 60_000), calls, errors, p50, p95: p50 === null ? null : p50 * 2, p99: p50 === null ? null : p50 * 3,
});

describe("charts render", () => {
  test("calls and errors: an SVG image whose label and hidden table give the numbers", () => {
    const out = html(CallsChart({ title: "Calls and errors", series: [point(0, 4, 1), point(30, 6, 0)], from, to }));
    expect(out).toContain('role="img"');
    expect(out).toContain("10 calls and 1 errors");
    expect(out).toContain("<title>");
    expect(out).toContain('class="visually-hidden"');
    expect(out).toContain("<td>6</td>");
    expect(out).not.toContain("No calls in this range");
  });
  test("no calls: the empty state, no SVG", () => {
    const out = html(CallsChart({ title: "Calls and errors", series: [point(0, 0, 0), point(30, 0, 0)], from, to }));
    expect(out).toContain("No calls in this range.");
    expect(out).not.toContain("<svg");
  });
  test("latency: a line per percentile, a lone point as a dot; all-null is empty", () => {
    const out = html(LatencyChart({ title: "Latency", series: [point(0, 1, 0, 10), point(20, 0, 0), point(40, 2, 0, 20), point(50, 2, 0, 30)], from, to }));
    expect(out).toContain('class="dot p50"');
    expect(out).toContain('class="line p99"');
    expect(out).toContain("the slowest p99 was 90 ms");
    expect(html(LatencyChart({ title: "Latency", series: [point(0, 0, 0)], from, to }))).toContain("No calls in this range.");
  });
  test("bars: labels escaped and linked, values listed", () => {
    const out = html(BarList({ title: "Top tools", entries: [{ label: "<b>echo</b>", href: "/admin/x?a=1&b=2", value: 12, errors: 2 }, { label: "add", value: 3, errors: 0 }] }));
    expect(out).not.toContain("<b>echo</b>");
    expect(out).toContain("&lt;b&gt;echo&lt;/b&gt;");
    expect(out).toContain('href="/admin/x?a=1&amp;b=2"');
    expect(out).toContain("Top tools: &lt;b&gt;echo&lt;/b&gt; 12, add 3.");
    expect(html(BarList({ title: "Top tools", entries: [] }))).toContain("No calls in this range.");
  });
  test("sparkline: a summary and a line", () => {
    const out = html(Sparkline({ label: "Calls, last 24 h", values: [0, 3, 1] }));
    expect(out).toContain("Calls, last 24 h: 4 in all, at most 3 in one interval.");
    expect(out).toContain("<path");
  });
});
