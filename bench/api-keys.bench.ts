// API keys: the median cost of verifying a token among 10,000 keys, and what the key check adds to a
// WHOAMI call through /mcp/self, against the same call with the check replaced by a fixed answer on
// the same server, measured interleaved in one run and reported as a ratio.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/load.ts";
import { tables, transaction } from "../src/db/store.ts";
import { createApiKey, hashToken } from "../src/domain/access/api-keys.ts";
import { createUser } from "../src/domain/access/users.ts";
import { createApp } from "../src/http/app.ts";
import { createLogger } from "../src/logger.ts";
import { compose } from "../src/compose.ts";
import { fmt, percentile, type Summary } from "./lib.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-bench-keys-"));
const config = parseConfig({ database: { path: join(dir, "db.sqlite") } }, { source: null, env: {}, baseDir: dir });
const logger = createLogger({ level: "info", write: () => {} });
const { deps, handle } = await compose(config, logger);
const owner = await createUser(deps.db, { email: "bench@example.com", role: "admin", password: "bench-password-1" });

// 10,000 keys; the hashes of all but the sampled ones are written directly to keep set-up quick.
const TOTAL = 10_000;
const SAMPLED = 1_000;
const tokens: string[] = [];
for (let i = 0; i < SAMPLED; i++) {
  tokens.push((await createApiKey(deps.db, { hmacKey: deps.keys.tokenHmac, name: `k${i}`, ownerId: owner.id, permissions: { self: ["*"] }, expiresAt: null })).token);
}
await transaction(deps.db, async (tx) => {
  const { apiKeys } = tables(tx);
  const now = new Date();
  for (let i = SAMPLED; i < TOTAL; i++) {
    await tx.insert(apiKeys).values({
      id: `key_${crypto.randomUUID()}`, name: `filler${i}`, ownerId: owner.id, tokenHash: hashToken(deps.keys.tokenHmac, `filler-${i}-${crypto.randomUUID()}`),
      prefix: "mcp_key_xxxxxx", permissions: { self: ["*"] }, createdAt: now, updatedAt: now,
    });
  }
});

// 1. Token verification, alone.
for (const t of tokens.slice(0, 200)) await deps.verifyKey(t); // warm-up
const costs: number[] = [];
for (let round = 0; round < 10; round++) {
  for (const token of tokens) {
    const t0 = Bun.nanoseconds();
    if (!(await deps.verifyKey(token))) throw new Error("a valid token failed verification");
    costs.push((Bun.nanoseconds() - t0) / 1000);
  }
}
costs.sort((a, b) => a - b);
const badT0 = Bun.nanoseconds();
for (let i = 0; i < 10_000; i++) await deps.verifyKey("mcp_key_" + "x".repeat(49));
const malformedUs = (Bun.nanoseconds() - badT0) / 1000 / 10_000;
console.log(`token verification among ${TOTAL} keys (${costs.length} checks): median ${percentile(costs, 50).toFixed(1)} µs, p99 ${percentile(costs, 99).toFixed(1)} µs`);
console.log(`malformed token rejected before lookup: ${malformedUs.toFixed(2)} µs`);

// 2. WHOAMI through /mcp/self over HTTP, on one server whose key check is, batch by batch, the real
// one or a fixed answer: everything else (routes, middleware, the JIT's state) is the same on both sides.
const verified = (await deps.verifyKey(tokens[0]!))!;
const realCheck = deps.verifyKey;
const switchable = { ...deps };
const app = createApp(switchable);
const useCheck = (side: "auth" | "none") => (switchable.verifyKey = side === "auth" ? realCheck : async () => verified);
const full = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req, srv) => app.fetch(req, srv) });

const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "WHOAMI", arguments: {} } });
const call = (port: number, token?: string) => async () => {
  const res = await fetch(`http://127.0.0.1:${port}/mcp/self`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const json = (await res.json()) as { result?: unknown };
  if (!json.result) throw new Error(`WHOAMI failed: ${JSON.stringify(json)}`);
};
// Many short alternating batches, with a full GC before each, so that neither side pays for the
// other's garbage; every call's latency is kept and the medians of all calls are compared.
const latencies: { auth: number[]; none: number[] } = { auth: [], none: [] };
let elapsed = { auth: 0, none: 0 };
async function batch(side: "auth" | "none", n: number) {
  const run = call(full.port!, tokens[0]);
  useCheck(side);
  Bun.gc(true);
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    latencies[side].push(performance.now() - t0);
  }
  elapsed[side] += performance.now() - started;
}
await batch("auth", 300); // warm-up, discarded
await batch("none", 300);
latencies.auth = [];
latencies.none = [];
elapsed = { auth: 0, none: 0 };
const ROUNDS = 40;
for (let round = 0; round < ROUNDS; round++) {
  const order: ("auth" | "none")[] = round % 2 === 0 ? ["auth", "none"] : ["none", "auth"];
  for (const side of order) await batch(side, 250);
}
const summary = (side: "auth" | "none"): Summary => {
  const sorted = [...latencies[side]].sort((x, y) => x - y);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), perSecond: sorted.length / (elapsed[side] / 1000) };
};
const a = summary("auth"), n = summary("none");
console.log(`WHOAMI via /mcp/self over HTTP, concurrency 1 (${ROUNDS} alternating batches of 250 calls each side)`);
console.log(`  key check: fixed answer ${fmt(n)}`);
console.log(`  key check: real         ${fmt(a)}`);
console.log(`  authentication adds     ${(((a.p50 - n.p50) / n.p50) * 100).toFixed(1)}% to p50 (${((a.p50 - n.p50) * 1000).toFixed(0)} µs); throughput ratio ${(a.perSecond / n.perSecond).toFixed(3)} (target: < 5%)`);
console.log(`  token check alone       ${((percentile(costs, 50) / 1000 / n.p50) * 100).toFixed(1)}% of the unauthenticated call's p50 (its median cost above over the call's p50)`);
console.log("  (the server and the client share this process and two cores: run on a quiet machine; differences under ~30 µs are within noise)");

// 3. The same call with no sockets at all: app.fetch on the same app, its key check switched the same
// way, alternating batches, GC between. Server-side time only, so far less noisy than the HTTP figures above.
{
  const request = () =>
    new Request(`${full.url}mcp/self`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${tokens[0]}` },
      body,
    });
  const perCall: { real: number[]; stub: number[] } = { real: [], stub: [] };
  const BATCH = 400;
  for (let round = 0; round < 30; round++) {
    const sides: ("real" | "stub")[] = round % 2 === 0 ? ["real", "stub"] : ["stub", "real"];
    for (const side of sides) {
      useCheck(side === "real" ? "auth" : "none");
      Bun.gc(true);
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++) await (await app.fetch(request())).arrayBuffer();
      if (round > 1) perCall[side].push(((performance.now() - t0) * 1000) / BATCH);
    }
  }
  const med = (xs: number[]) => percentile([...xs].sort((x, y) => x - y), 50);
  const real = med(perCall.real), stub = med(perCall.stub);
  console.log("WHOAMI via /mcp/self in-process (app.fetch, no sockets), median of 28 alternating batches of 400 calls");
  console.log(`  key check replaced by a fixed answer  ${stub.toFixed(1)} µs per call`);
  console.log(`  real key check                        ${real.toFixed(1)} µs per call`);
  console.log(`  authentication adds                   ${(((real - stub) / stub) * 100).toFixed(1)}% (${(real - stub).toFixed(1)} µs) (target: < 5%)`);
}

full.stop(true);
await deps.lastUsed.stop();
handle.close();
rmSync(dir, { recursive: true, force: true });
