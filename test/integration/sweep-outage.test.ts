// The 10-minute sweep when the database cannot be reached: each step's failure is logged and the sweep
// resolves. (It was an async timer callback without a catch: its rejection was unhandled, and Bun exits
// the process on one, so a replica that lost the database died instead of answering 503.)
import { expect, test } from "bun:test";
import { createLogger } from "../../src/logger.ts";
import { startTestServer } from "../support/app.ts";
import { TEST_ON_POSTGRES } from "../support/postgres.ts";

const SWEEP_EVERY_MS = 10 * 60_000;

test("the sweep survives a database that cannot be reached: each step's failure is logged, nothing rejects", async () => {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }) });
  // The sweep's timer callback, caught as startServer registers it.
  const realSetInterval = globalThis.setInterval;
  let sweep: (() => unknown) | null = null;
  globalThis.setInterval = ((fn: () => unknown, ms?: number, ...rest: unknown[]) => {
    if (ms === SWEEP_EVERY_MS) sweep = fn;
    return realSetInterval(fn as never, ms, ...(rest as []));
  }) as typeof setInterval;
  let started: Awaited<ReturnType<typeof startTestServer>>;
  try {
    started = await startTestServer({ logger });
  } finally {
    globalThis.setInterval = realSetInterval;
  }
  expect(sweep).not.toBeNull();
  try {
    // The database goes away: SQLite's connection closed, or PostgreSQL's pool (every query then rejects,
    // as when the server is down).
    const { deps } = started.server;
    deps.sqlite?.close();
    await (deps.db as unknown as { $client?: { close?: () => Promise<void> } }).$client?.close?.();
    // What the timer runs: it must resolve (a rejection would kill the process).
    const before = lines.length;
    await expect(Promise.resolve(sweep!())).resolves.toBeUndefined();
    expect(lines.slice(before).filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      "cannot purge expired sessions",
      "cannot prune OAuth rows",
      // The sign-in attempts are in the database only with several replicas (PostgreSQL); in memory otherwise.
      ...(TEST_ON_POSTGRES ? ["cannot prune sign-in attempts"] : []),
      "cannot prune monitoring rows",
    ]);
  } finally {
    await started.server.stop().catch(() => undefined);
    await started.cleanup().catch(() => undefined);
  }
});
