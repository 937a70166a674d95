// CONNECTION_LIST: the summary read (public columns and presence flags, nothing decrypted) against the
// decrypting read the list used before (every token, header and env table opened, names masked), over
// the same 500 connections with secrets, each shaped by its output schema, measured interleaved in one run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseConfig } from "../src/config/load.ts";
import { compose } from "../src/compose.ts";
import { createConnection, listConnections, listConnectionSummaries, newConnectionFields } from "../src/domain/connections/connections.ts";
import { createLogger } from "../src/logger.ts";
import { ConnectionShape, ConnectionSummaryShape, connectionOut, connectionSummariesOut } from "../src/operations/connection-shapes.ts";
import { connectionStore } from "../src/operations/connections.ts";
import { percentile } from "./lib.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-bench-connlist-"));
const config = parseConfig({ database: { path: join(dir, "db.sqlite") } }, { source: null, env: {}, baseDir: dir });
const { deps, handle } = await compose(config, createLogger({ level: "info", write: () => {} }));
const store = connectionStore(deps);

const COUNT = 500;
for (let i = 0; i < COUNT; i++) {
  const slug = `c${String(i).padStart(4, "0")}`;
  const fields =
    i % 2 === 0
      ? newConnectionFields({ slug, transport: "http", url: `https://mcp${i}.example/mcp`, token: `tok-${i}-${crypto.randomUUID()}`, headers: { "X-Team": `team-${i}`, "X-Key": crypto.randomUUID() } })
      : newConnectionFields({ slug, transport: "stdio", command: "node", args: ["server.js"], env: { API_KEY: crypto.randomUUID(), REGION: "eu" } });
  await createConnection(store, fields);
}

/** The list as an admin reads it. */
const ADMIN = { role: "admin" } as const;
const FullList = z.array(ConnectionShape);
const SummaryList = z.array(ConnectionSummaryShape);
const decrypting = async () => FullList.parse(await Promise.all((await listConnections(store)).map((c) => connectionOut(deps, c, ADMIN))));
const summary = async () => SummaryList.parse(await connectionSummariesOut(deps, await listConnectionSummaries(deps.db), ADMIN));

if ((await summary()).length !== COUNT || (await decrypting()).length !== COUNT) throw new Error("the lists do not hold every connection");
for (let i = 0; i < 5; i++) {
  await decrypting();
  await summary();
} // warm-up

const ROUNDS = 40;
const times = { decrypting: [] as number[], summary: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, alternating which goes first, so both see the same machine load.
  const order = round % 2 === 0 ? (["decrypting", "summary"] as const) : (["summary", "decrypting"] as const);
  for (const which of order) {
    const t0 = performance.now();
    await (which === "decrypting" ? decrypting : summary)();
    times[which].push(performance.now() - t0);
  }
}
for (const list of Object.values(times)) list.sort((a, b) => a - b);
const p50 = { decrypting: percentile(times.decrypting, 50), summary: percentile(times.summary, 50) };
console.log(`CONNECTION_LIST over ${COUNT} connections with secrets, ${ROUNDS} interleaved rounds:`);
console.log(`  decrypting read (before): p50 ${p50.decrypting.toFixed(2)} ms  p99 ${percentile(times.decrypting, 99).toFixed(2)} ms`);
console.log(`  summary read (now):       p50 ${p50.summary.toFixed(2)} ms  p99 ${percentile(times.summary, 99).toFixed(2)} ms`);
console.log(`  ratio summary/decrypting: ${(p50.summary / p50.decrypting).toFixed(2)}`);

handle.close();
rmSync(dir, { recursive: true, force: true });
