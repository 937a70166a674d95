// The filtered usage log as CSV or JSON lines, every page of it up to a bound, streamed. It pages
// through MONITORING_LOGS_LIST itself, so the permission and the member rule are that operation's.
import type { z } from "zod";
import { monitoringLogsList, LOG_PAGE_MAX } from "./monitoring.ts";
import type { UsageRowShape } from "./monitoring-shapes.ts";
import { runOperation, type OperationContext } from "./registry.ts";

/** The most rows one export holds: past it the file ends with a note saying it was cut. */
export const EXPORT_MAX_ROWS = 100_000;
export type ExportFormat = "csv" | "json";

type Row = z.output<typeof UsageRowShape>;

const COLUMNS: [string, (r: Row) => string | number | null][] = [
  ["id", (r) => r.id],
  ["at", (r) => r.at],
  ["duration_ms", (r) => r.duration_ms],
  ["face", (r) => r.face],
  ["target_kind", (r) => r.target.kind],
  ["target_id", (r) => r.target.id],
  ["target_slug", (r) => r.target.slug],
  ["method", (r) => r.method],
  ["name", (r) => r.name],
  ["upstream_name", (r) => r.upstream_name],
  ["connection_id", (r) => r.connection_id],
  ["outcome", (r) => r.outcome],
  ["error_code", (r) => r.error_code],
  ["error_message", (r) => r.error_message],
  ["user_id", (r) => r.actor.user_id],
  ["credential_kind", (r) => r.actor.credential_kind],
  ["credential_id", (r) => r.actor.credential_id],
  ["session_id", (r) => r.session_id],
  ["client_name", (r) => r.client.name],
  ["client_version", (r) => r.client.version],
  ["address", (r) => r.address],
  ["request_bytes", (r) => r.request_bytes],
  ["response_bytes", (r) => r.response_bytes],
];

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled. Text
 * starting with = + - @ (or a tab or carriage return) is prefixed with ' so a spreadsheet shows it
 * rather than running it as a formula: tool names, error messages and client names are callers' text.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(cells: (string | number | null)[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/** The note that ends an export cut at the bound: a comment line in CSV, an object of its own in JSON lines. */
function cutNote(format: ExportFormat, maxRows: number): string {
  const text = `export cut at ${maxRows} rows; narrow the range or the filters for the rest`;
  return format === "csv" ? `# ${text}\r\n` : `${JSON.stringify({ truncated: true, max_rows: maxRows, message: text })}\n`;
}

/**
 * The export as a stream, one page of the log per pull (so a slow reader holds the database no
 * longer than one page). The first page is read before the stream is returned: a refusal or an
 * invalid filter is an error answer, not a broken download.
 */
export async function exportUsage(
  ctx: OperationContext,
  filters: Record<string, unknown>,
  format: ExportFormat,
  options: { maxRows?: number } = {},
): Promise<ReadableStream<Uint8Array>> {
  const maxRows = options.maxRows ?? EXPORT_MAX_ROWS;
  const encoder = new TextEncoder();
  const read = (cursor: string | null, remaining: number) =>
    // One row more than the bound is asked for, so a log of exactly maxRows rows is not called cut.
    runOperation(monitoringLogsList, ctx, { ...filters, cursor: cursor ?? undefined, limit: Math.min(LOG_PAGE_MAX, remaining + 1) });
  let page = await read(null, maxRows);
  let written = 0;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = "";
      if (!started) {
        started = true;
        if (format === "csv") chunk += csvLine(COLUMNS.map(([name]) => name));
      }
      const room = maxRows - written;
      const rows = page.rows.slice(0, room);
      for (const row of rows) chunk += format === "csv" ? csvLine(COLUMNS.map(([, get]) => get(row))) : `${JSON.stringify(row)}\n`;
      written += rows.length;
      const more = page.rows.length > rows.length || page.next_cursor !== null;
      if (more && written >= maxRows) {
        controller.enqueue(encoder.encode(chunk + cutNote(format, maxRows)));
        controller.close();
        return;
      }
      if (!more) {
        if (chunk) controller.enqueue(encoder.encode(chunk));
        controller.close();
        return;
      }
      if (chunk) controller.enqueue(encoder.encode(chunk));
      page = await read(page.next_cursor, maxRows - written);
    },
  });
}
