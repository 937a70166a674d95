// SERVER_STATS: the dashboard's figures (version, uptime, users, admin and MCP sessions, database size), read
// through the registry like every other admin read, so the registry decides who sees them.
import { z } from "zod";
import { countUsers } from "../domain/access/users.ts";
import { countActiveSessions, databaseSize } from "../domain/stats.ts";
import { VERSION } from "../version.ts";
import { defineOperation } from "./registry.ts";

export const serverStats = defineOperation({
  name: "SERVER_STATS",
  title: "Server figures",
  description:
    "Get this Switchboard's figures, as its dashboard shows them: version, seconds since it started, how many users exist, " +
    "how many admin sessions are signed in now, how many MCP sessions are open on connections and agents, the database's size on disk (file and WAL, in bytes) and its public URL.",
  input: z.object({}),
  output: z.object({
    version: z.string(),
    uptime_seconds: z.number().int().describe("Seconds since this server (or, from the CLI, this command) started"),
    users: z.number().int(),
    active_sessions: z.number().int().describe("Admin sessions not yet expired"),
    mcp_sessions: z.number().int().describe("MCP sessions open now on /mcp/<connection> and /mcp/agent/<agent> (0 from the CLI: no gateway runs)"),
    database_bytes: z.number().int().describe("The database file and its WAL, in bytes (on PostgreSQL, the database's size as the server reports it)"),
    public_url: z.string(),
  }),
  // Every signed-in user sees the dashboard: counts only, nothing that names a user or a secret.
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/stats" },
  handler: async (ctx) => ({
    version: VERSION,
    uptime_seconds: Math.max(0, Math.floor((ctx.now.getTime() - ctx.deps.startedAt.getTime()) / 1000)),
    users: await countUsers(ctx.deps.db),
    active_sessions: await countActiveSessions(ctx.deps.db, ctx.now),
    mcp_sessions: ctx.deps.gateway.sessionCount,
    database_bytes: await databaseSize(ctx.deps.db, ctx.deps.config.database.path),
    public_url: ctx.deps.config.server.public_url,
  }),
});
