// The usage log's export as a download: GET /api/v1/monitoring/logs/export (a key) and
// /admin/monitoring/export (the signed-in user), both ?format=csv|json and the log's filters.
import type { Context } from "hono";
import { AppError } from "../../errors.ts";
import { exportUsage, type ExportFormat } from "../../operations/monitoring-export.ts";
import type { Caller } from "../../domain/access/caller.ts";
import type { AppDeps, AppEnv } from "../context.ts";

const TYPES: Record<ExportFormat, string> = { csv: "text/csv; charset=utf-8", json: "application/x-ndjson; charset=utf-8" };

/** Streams the export for this caller; the filters are the query (format, cursor and limit aside). */
export async function exportResponse(c: Context<AppEnv>, deps: AppDeps, caller: Caller): Promise<Response> {
  const { format = "csv", cursor: _cursor, limit: _limit, ...filters } = c.req.query();
  if (format !== "csv" && format !== "json") throw new AppError("VALIDATION_FAILED", "format must be csv or json.", { fields: { format: 'expected "csv" or "json"' } });
  const now = new Date();
  const body = await exportUsage({ deps, caller, now }, filters, format);
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": TYPES[format],
      "Content-Disposition": `attachment; filename="switchboard-usage-${stamp}.${format === "csv" ? "csv" : "jsonl"}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
