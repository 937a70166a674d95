// The 10-minute sweep: it prunes expired upstream OAuth flows (and keeps live ones); when the database
// cannot be reached, each step's failure is logged and the sweep resolves. (It was an async timer callback without a catch: its rejection was unhandled, and Bun exits
// the process on one, so a replica that lost the database died instead of answering 503.)
import { expect, test } from "bun:test";
import { createLogger } from "../../src/logger.ts";
import { startTestServer } from "../support/app.ts";
import { TEST_ON_POSTGRES } from "../support/postgres.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { rawRows } from "../support/raw-sql.ts";
import { insertUser } from "../support/users.ts";

const SWEEP_EVERY_MS = 10 * 60_000;

/** Starts a test server, catching the sweep's timer callback as startServer registers it. */
async function startCatchingSweep(options: Parameters<typeof startTestServer>[0]): Promise<{ started: Awaited<ReturnType<typeof startTestServer>>; sweep: () => unknown }> {
  const realSetInterval = globalThis.setInterval;
  let sweep: (() => unknown) | null = null;
  globalThis.setInterval = ((fn: () => unknown, ms?: number, ...rest: unknown[]) => {
    if (ms === SWEEP_EVERY_MS) sweep = fn;
    return realSetInterval(fn as never, ms, ...(rest as []));
  }) as typeof setInterval;
  try {
    const started = await startTestServer(options);
    expect(sweep).not.toBeNull();
    return { started, sweep: sweep! };
  } finally {
    globalThis.setInterval = realSetInterval;
  }
}

test("the sweep survives a database that cannot be reached: each step's failure is logged, nothing rejects", async () => {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }) });
  const { started, sweep } = await startCatchingSweep({ logger });
  try {
    // The database goes away: SQLite's connection closed, or PostgreSQL's pool (every query then rejects,
    // as when the server is down).
    const { deps } = started.server;
    deps.sqlite?.close();
    await (deps.db as unknown as { $client?: { close?: () => Promise<void> } }).$client?.close?.();
    // What the timer runs: it must resolve (a rejection would kill the process).
    const before = lines.length;
    await expect(Promise.resolve(sweep())).resolves.toBeUndefined();
    expect(lines.slice(before).filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      "cannot purge expired sessions",
      "cannot prune OAuth rows",
      "cannot prune upstream OAuth flows",
      // The sign-in attempts are in the database only with several replicas (PostgreSQL); in memory otherwise.
      ...(TEST_ON_POSTGRES ? ["cannot prune sign-in attempts"] : []),
      "cannot prune monitoring rows",
    ]);
  } finally {
    await started.server.stop().catch(() => undefined);
    await started.cleanup().catch(() => undefined);
  }
});

test("the sweep prunes upstream OAuth flows that expired (an authorization never finished), and keeps live ones", async () => {
  const { started, sweep } = await startCatchingSweep({});
  try {
    const { deps } = started.server;
    const store = connectionStore(deps);
    const conn = await createConnection(store, newConnectionFields({ slug: "swept", transport: "http", url: "https://mcp.example.com/mcp" }));
    const user = await insertUser(deps, "admin");
    const flows = upstreamOAuthStore(store);
    const now = Date.now();
    const flow = (expiresAt: number) => ({ connectionId: conn.id, subject: "shared" as const, userId: user.id, codeVerifier: "v".repeat(43), bindingHash: "b", returnTo: "/admin", createdAt: new Date(now - 3_600_000), expiresAt: new Date(expiresAt) });
    await flows.createFlow("expired", flow(now - 1_000));
    await flows.createFlow("live", flow(now + 3_600_000));
    await sweep();
    expect((await rawRows<{ state_hash: string }>(deps, "SELECT state_hash FROM upstream_oauth_flows")).map((r) => r.state_hash)).toEqual(["live"]);
  } finally {
    await started.server.stop().catch(() => undefined);
    await started.cleanup().catch(() => undefined);
  }
});
