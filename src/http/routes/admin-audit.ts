// The Audit page: the log read through AUDIT_LIST as the signed-in user (members: their own changes),
// with the filters in the URL, so htmx swaps the table and pushes the URL, and a reload shows the same.
import { Hono } from "hono";
import { auditList } from "../../operations/audit.ts";
import { userList } from "../../operations/users.ts";
import { AuditPage, AuditSection, type AuditFilters, type AuditProps } from "../../../views/audit.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx } from "../form.ts";
import { runAsUser } from "../form-flow.ts";

/** Rows per page of the admin's table. */
const PAGE_ROWS = 50;

export function adminAuditRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const q = c.req.query();
    const filters: AuditFilters = { action: (q.action ?? "").trim(), user_id: q.user_id ?? "", face: q.face ?? "", range: q.range ?? "" };
    const cursor = q.cursor || undefined;
    // The operation is the one check of every filter: a bad one is its VALIDATION_FAILED, never a query here.
    const input = Object.fromEntries(Object.entries({ ...filters, cursor, limit: PAGE_ROWS }).filter(([, value]) => value !== "" && value !== undefined));
    const page = await runAsUser(c, deps, auditList, input);
    const viewer = c.get("user");
    const users = viewer.role === "admin" ? (await runAsUser(c, deps, userList, {})).users.map((u) => ({ id: u.id, email: u.email })) : null;
    const props: AuditProps = { viewer, rows: page.rows, filters, nextCursor: page.next_cursor, paged: cursor !== undefined, users };
    // htmx swaps the section; a history restore or a plain browser gets the whole page.
    const fragment = isHtmx(c) && c.req.header("hx-history-restore-request") !== "true" && c.req.header("hx-request-type") !== "full";
    return c.html((fragment ? AuditSection(props) : AuditPage(props)).toString());
  });

  return app;
}
