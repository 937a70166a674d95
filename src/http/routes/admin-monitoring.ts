// The Monitoring pages: the charts and log under one set of filters (the fragment alone for htmx), one
// recorded call, all read through the monitoring operations as the signed-in user (members: their own).
import { Hono, type Context } from "hono";
import { agentList } from "../../operations/agents.ts";
import { apiKeyList } from "../../operations/api-keys.ts";
import { connectionList } from "../../operations/connections.ts";
import { monitoringLogGet, monitoringLogsList, monitoringStats } from "../../operations/monitoring.ts";
import { oauthGrantList } from "../../operations/oauth.ts";
import { userList } from "../../operations/users.ts";
import { FILTER_FIELDS, LogDetailPage, MonitoringPage, MonitoringResults, type MonitoringFilters, type MonitoringProps, type Option } from "../../../views/monitoring.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx } from "../form.ts";
import { formRefusal, runAsUser } from "../form-flow.ts";

/** Buckets of the page's series: one every minute over an hour, 20 minutes over a day, and so on. */
const BUCKETS = 72;
const LOG_PAGE = 50;

/** A datetime-local value ("2026-11-29T10:00") is read as UTC, as the form labels it; anything else is passed as typed. */
function asIso(value: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
}

/** The filters of the query string: known fields only, empty ones dropped, custom times in UTC. */
export function readFilters(query: Record<string, string>): MonitoringFilters {
  const filters: MonitoringFilters = {};
  for (const field of FILTER_FIELDS) {
    const value = query[field]?.trim();
    if (value) filters[field] = field === "from" || field === "to" ? asIso(value) : value;
  }
  // Custom times win over a named range: the range select always sends one.
  if (filters.from || filters.to) delete filters.range;
  return filters;
}

export function adminMonitoringRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** Names for the selects and the top lists: what the signed-in user may list (members: their own keys and apps). */
  const options = async (c: Context<AppEnv>, isAdmin: boolean): Promise<MonitoringProps["options"]> => {
    const [agents, connections, keys, grants] = await Promise.all([
      runAsUser(c, deps, agentList, {}),
      runAsUser(c, deps, connectionList, {}),
      runAsUser(c, deps, apiKeyList, {}),
      runAsUser(c, deps, oauthGrantList, {}),
    ]);
    const users: Option[] = isAdmin ? (await runAsUser(c, deps, userList, {})).users.map((u) => ({ id: u.id, label: u.email })) : [];
    return {
      agents: agents.agents.map((a) => ({ id: a.id, label: a.slug })),
      connections: connections.connections.map((x) => ({ id: x.id, label: x.slug })),
      credentials: [
        ...keys.keys.map((k) => ({ id: k.id, label: isAdmin ? `${k.name} (${k.owner.email})` : k.name })),
        ...grants.grants.map((g) => ({ id: g.id, label: `app ${g.client.name}${isAdmin ? ` (${g.user.email})` : ""}` })),
      ],
      users,
    };
  };

  app.get("/", async (c) => {
    const user = c.get("user");
    const isAdmin = user.role === "admin";
    const query = c.req.query();
    const filters = readFilters(query);
    const cursor = query.cursor?.trim() || undefined;
    let stats: MonitoringProps["stats"] = null;
    let log: MonitoringProps["log"] = null;
    let refusal: string | null = null;
    try {
      // The operations force a member's rows to their own, whatever user_id the URL carries.
      [stats, log] = await Promise.all([
        runAsUser(c, deps, monitoringStats, { ...filters, buckets: BUCKETS, top: 10 }),
        runAsUser(c, deps, monitoringLogsList, { ...filters, cursor, limit: LOG_PAGE }),
      ]);
    } catch (err) {
      // A filter the operation refuses (a bad time, a window too wide) is shown above the results.
      const inline = formRefusal(err);
      if (!inline) throw err;
      refusal = [inline.message, ...Object.entries(inline.fields).map(([field, why]) => `${field}: ${why}`)].join(" ");
    }
    const props: MonitoringProps = {
      user,
      isAdmin,
      filters,
      options: await options(c, isAdmin),
      stats,
      log,
      refusal,
      query: new URLSearchParams({ ...filters, ...(cursor ? { cursor } : {}) }).toString(),
    };
    if (refusal !== null) c.status(400);
    return c.html(isHtmx(c) ? MonitoringResults(props) : MonitoringPage(props));
  });

  app.get("/logs/:id", async (c) => {
    const row = await runAsUser(c, deps, monitoringLogGet, { id: c.req.param("id") });
    return c.html(LogDetailPage({ user: c.get("user"), row }));
  });

  return app;
}
