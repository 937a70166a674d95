// Server-drawn charts as inline SVG (no chart library in the browser): calls and errors over time,
// latency percentiles, top-N bar lists and a sparkline, each with a text summary and a hidden table.
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";

/** One time bucket of a series, as the monitoring operations return it. */
export type SeriesPoint = { start: Date; calls: number; errors: number; p50: number | null; p95: number | null; p99: number | null };

/** One bar of a top-N list. */
export type BarEntry = { label: string; href?: string; value: number; errors: number };

// The viewBox is about the size the charts are shown at (two to a row), so 11-12 px text stays legible.
const WIDTH = 520;
const HEIGHT = 190;
const PAD = { top: 12, right: 14, bottom: 26, left: 48 };

/**
 * The smallest "round" number (1, 2, 2.5 or 5 times a power of ten) at or above `value`, so an axis
 * ends on a figure a reader can divide; 1 for nothing at all (an empty axis still has a scale).
 */
export function niceMax(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    // The epsilon keeps 0.3 / 0.1 = 2.9999… from skipping past 3 to 5.
    if (step * power >= value - power * 1e-9) return step * power;
  }
  return 10 * power;
}

/**
 * Axis ticks from 0: a round step (niceMax of max / count) repeated until max is covered, so there are
 * at most count + 1 ticks. `integer` keeps steps whole (a count of calls has no 0.25).
 */
export function niceTicks(max: number, options: { count?: number; integer?: boolean } = {}): number[] {
  const count = options.count ?? 4;
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  let step = niceMax(top / count);
  if (options.integer) step = step < 1 ? 1 : step === 2.5 ? 5 : step;
  const n = Math.max(1, Math.ceil(top / step - 1e-9));
  return Array.from({ length: n + 1 }, (_, i) => round(step * i, 6));
}

/** Maps a domain linearly onto a range (a flat domain maps to the range's start). */
export function scaleLinear(domain: [number, number], range: [number, number]): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  return (value) => (d1 === d0 ? r0 : r0 + ((value - d0) / (d1 - d0)) * (r1 - r0));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/**
 * Time-axis ticks: the smallest whole step (a minute up to a week, aligned to UTC) that gives at most
 * `count` ticks inside [from, to], so labels fall on 14:00 or 00:00 rather than wherever the range began.
 */
export function timeTicks(from: Date, to: Date, count = 6): { ticks: Date[]; stepMs: number } {
  const span = to.getTime() - from.getTime();
  if (!(span > 0)) return { ticks: [], stepMs: MINUTE };
  const stepMs = TIME_STEPS.find((step) => span / step <= count) ?? Math.ceil(span / count / DAY) * DAY;
  const ticks: Date[] = [];
  for (let t = Math.ceil(from.getTime() / stepMs) * stepMs; t <= to.getTime(); t += stepMs) ticks.push(new Date(t));
  return { ticks, stepMs };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A tick's label (UTC): the time of day for steps under a day, else the date; midnight shows its date. */
export function formatTimeTick(date: Date, stepMs: number): string {
  const day = `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}`;
  if (stepMs >= DAY) return day;
  const hh = String(date.getUTCHours()).padStart(2, "0");
  const mm = String(date.getUTCMinutes()).padStart(2, "0");
  return hh === "00" && mm === "00" && stepMs >= HOUR ? day : `${hh}:${mm}`;
}

/** A compact count: 950, 1.2k, 3.4M. */
export function formatCount(value: number): string {
  if (Math.abs(value) < 1000) return String(round(value));
  if (Math.abs(value) < 1_000_000) return `${round(value / 1000, 1)}k`;
  return `${round(value / 1_000_000, 1)}M`;
}

/** A duration in ms for axes and tables: 12 ms, 1.5 s. */
export function formatMs(value: number | null): string {
  if (value === null) return "–";
  return value < 1000 ? `${round(value)} ms` : `${round(value / 1000, 1)} s`;
}

/** A full UTC timestamp for tables (minute precision). */
export function formatStamp(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Splits a series into runs without gaps (a null percentile breaks the line rather than dropping to 0). */
export function segments(points: { x: number; y: number | null }[]): { x: number; y: number }[][] {
  const runs: { x: number; y: number }[][] = [];
  let run: { x: number; y: number }[] = [];
  for (const p of points) {
    if (p.y === null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push({ x: p.x, y: p.y });
  }
  if (run.length) runs.push(run);
  return runs;
}

function path(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

/** The frame of a time chart: y grid with labels, x ticks with labels. */
function Axes(props: { yTicks: number[]; y: (v: number) => number; yLabel: (v: number) => string; from: Date; to: Date; x: (t: number) => number }) {
  const { ticks, stepMs } = timeTicks(props.from, props.to);
  return (
    <g class="axes" aria-hidden="true">
      {props.yTicks.map((v) => (
        <g>
          <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={props.y(v)} y2={props.y(v)} />
          <text class="tick" x={PAD.left - 6} y={props.y(v) + 4} text-anchor="end">{props.yLabel(v)}</text>
        </g>
      ))}
      {ticks.map((t) => (
        <text class="tick" x={props.x(t.getTime())} y={HEIGHT - 8} text-anchor="middle">{formatTimeTick(t, stepMs)}</text>
      ))}
    </g>
  );
}

/**
 * The visually hidden table of a chart's numbers, for screen readers and copying. Hidden by a wrapper:
 * a table is never narrower than its content, so on the table itself the 1px box would not hold it and
 * the page would grow wider.
 */
function DataTable(props: { caption: string; head: string[]; rows: (string | number)[][] }) {
  return (
    <div class="visually-hidden">
      <table>
        <caption>{props.caption}</caption>
        <thead><tr>{props.head.map((h) => <th scope="col">{h}</th>)}</tr></thead>
        <tbody>{props.rows.map((row) => <tr>{row.map((cell) => <td>{cell}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

function Empty(props: { title: string }) {
  return (
    <figure class="chart empty">
      <figcaption>{props.title}</figcaption>
      <p class="muted">No calls in this range.</p>
    </figure>
  );
}

/** The x scale of a series: the middle of each bucket over [from, to]. */
function timeScale(from: Date, to: Date): (t: number) => number {
  return scaleLinear([from.getTime(), to.getTime()], [PAD.left, WIDTH - PAD.right]);
}

function bucketMiddle(series: SeriesPoint[], i: number, to: Date): number {
  const start = series[i]!.start.getTime();
  const end = series[i + 1]?.start.getTime() ?? to.getTime();
  return (start + end) / 2;
}

/** Calls (area) and errors (line) per bucket over the range. */
export function CallsChart(props: { title: string; series: SeriesPoint[]; from: Date; to: Date }): Child {
  const { series, from, to } = props;
  const calls = series.reduce((n, p) => n + p.calls, 0);
  const errors = series.reduce((n, p) => n + p.errors, 0);
  if (calls === 0) return <Empty title={props.title} />;
  const yTicks = niceTicks(Math.max(...series.map((p) => p.calls)), { integer: true });
  const y = scaleLinear([0, yTicks[yTicks.length - 1]!], [HEIGHT - PAD.bottom, PAD.top]);
  const x = timeScale(from, to);
  const callPoints = series.map((p, i) => ({ x: x(bucketMiddle(series, i, to)), y: y(p.calls) }));
  const errorPoints = series.map((p, i) => ({ x: x(bucketMiddle(series, i, to)), y: y(p.errors) }));
  const base = y(0);
  const area = `${path(callPoints)} L${callPoints[callPoints.length - 1]!.x.toFixed(1)},${base} L${callPoints[0]!.x.toFixed(1)},${base} Z`;
  const summary = `${props.title}: ${calls} calls and ${errors} errors from ${formatStamp(from)} to ${formatStamp(to)}, at most ${Math.max(...series.map((p) => p.calls))} calls in one interval.`;
  return (
    <figure class="chart">
      <figcaption>{props.title} <span class="legend"><i class="calls"></i>calls <i class="errors"></i>errors</span></figcaption>
      <svg role="img" aria-label={summary} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} class="chart-svg" data-chart="calls">
        <title>{summary}</title>
        <Axes yTicks={yTicks} y={y} yLabel={formatCount} from={from} to={to} x={x} />
        <path class="area calls" d={area} />
        <path class="line calls" d={path(callPoints)} />
        <path class="line errors" d={path(errorPoints)} />
      </svg>
      <DataTable caption={props.title} head={["From (UTC)", "Calls", "Errors"]} rows={series.map((p) => [formatStamp(p.start), p.calls, p.errors])} />
    </figure>
  );
}

const PERCENTILES = ["p50", "p95", "p99"] as const;

/** Latency percentiles (p50, p95, p99) per bucket; a bucket without calls leaves a gap. */
export function LatencyChart(props: { title: string; series: SeriesPoint[]; from: Date; to: Date }): Child {
  const { series, from, to } = props;
  const values = series.flatMap((p) => PERCENTILES.map((k) => p[k])).filter((v): v is number => v !== null);
  if (values.length === 0) return <Empty title={props.title} />;
  const yTicks = niceTicks(Math.max(...values));
  const y = scaleLinear([0, yTicks[yTicks.length - 1]!], [HEIGHT - PAD.bottom, PAD.top]);
  const x = timeScale(from, to);
  const summary = `${props.title}: the slowest p99 was ${formatMs(Math.max(...series.map((p) => p.p99 ?? 0)))}, the highest p50 ${formatMs(Math.max(...series.map((p) => p.p50 ?? 0)))}.`;
  return (
    <figure class="chart">
      <figcaption>{props.title} <span class="legend"><i class="p50"></i>p50 <i class="p95"></i>p95 <i class="p99"></i>p99</span></figcaption>
      <svg role="img" aria-label={summary} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} class="chart-svg" data-chart="latency">
        <title>{summary}</title>
        <Axes yTicks={yTicks} y={y} yLabel={(v) => formatMs(v)} from={from} to={to} x={x} />
        {PERCENTILES.map((k) =>
          segments(series.map((p, i) => ({ x: x(bucketMiddle(series, i, to)), y: p[k] === null ? null : y(p[k]) }))).map((run) =>
            run.length === 1 ? <circle class={`dot ${k}`} cx={run[0]!.x} cy={run[0]!.y} r="2.5" /> : <path class={`line ${k}`} d={path(run)} />,
          ),
        )}
      </svg>
      <DataTable caption={props.title} head={["From (UTC)", "p50", "p95", "p99"]} rows={series.map((p) => [formatStamp(p.start), formatMs(p.p50), formatMs(p.p95), formatMs(p.p99)])} />
    </figure>
  );
}

const BAR_HEIGHT = 22;

/** A top-N list as horizontal bars (calls, with the errors' share darker), labels linked when they can be. */
export function BarList(props: { title: string; entries: BarEntry[]; empty?: string }): Child {
  const { entries } = props;
  if (entries.length === 0) {
    return (
      <figure class="chart bars empty">
        <figcaption>{props.title}</figcaption>
        <p class="muted">{props.empty ?? "No calls in this range."}</p>
      </figure>
    );
  }
  const max = Math.max(...entries.map((e) => e.value));
  const labelWidth = 170;
  const x = scaleLinear([0, max], [0, WIDTH - labelWidth - 50]);
  const height = entries.length * BAR_HEIGHT + 4;
  const summary = `${props.title}: ${entries.map((e) => `${e.label} ${e.value}`).join(", ")}.`;
  return (
    <figure class="chart bars">
      <figcaption>{props.title}</figcaption>
      <svg role="img" aria-label={summary} viewBox={`0 0 ${WIDTH} ${height}`} class="chart-svg" data-chart="bars">
        <title>{summary}</title>
        {entries.map((e, i) => {
          const top = i * BAR_HEIGHT + 2;
          const label = e.label.length > 26 ? `${e.label.slice(0, 25)}…` : e.label;
          return (
            <g>
              {e.href ? <a href={e.href}><text class="bar-label" x={0} y={top + 15}>{label}</text></a> : <text class="bar-label" x={0} y={top + 15}>{label}</text>}
              <rect class="bar" x={labelWidth} y={top + 3} width={Math.max(1, x(e.value))} height={BAR_HEIGHT - 8} />
              {e.errors > 0 ? <rect class="bar errors" x={labelWidth} y={top + 3} width={Math.max(1, x(e.errors))} height={BAR_HEIGHT - 8} /> : null}
              <text class="bar-value" x={labelWidth + x(e.value) + 6} y={top + 15}>{formatCount(e.value)}</text>
            </g>
          );
        })}
      </svg>
      <DataTable caption={props.title} head={["Name", "Calls", "Errors"]} rows={entries.map((e) => [e.label, e.value, e.errors])} />
    </figure>
  );
}

/** A small line of counts with no axes (the dashboard's last 24 hours). */
export function Sparkline(props: { label: string; values: number[]; tone?: "calls" | "errors" }): Child {
  const w = 160, h = 36;
  const max = niceMax(Math.max(0, ...props.values));
  const x = scaleLinear([0, Math.max(1, props.values.length - 1)], [1, w - 1]);
  const y = scaleLinear([0, max], [h - 2, 2]);
  const summary = `${props.label}: ${props.values.reduce((a, b) => a + b, 0)} in all, at most ${Math.max(0, ...props.values)} in one interval.`;
  return (
    <svg role="img" aria-label={summary} viewBox={`0 0 ${w} ${h}`} class="sparkline" data-chart="sparkline">
      <title>{summary}</title>
      {props.values.length > 1 ? <path class={`line ${props.tone ?? "calls"}`} d={path(props.values.map((v, i) => ({ x: x(i), y: y(v) })))} /> : null}
    </svg>
  );
}
