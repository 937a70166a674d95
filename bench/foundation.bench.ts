// The cost of the gateway's HTTP stack (logging, body limit, routing, error boundary) on /healthz,
// against a bare Bun.serve answering the same JSON, interleaved in one run; and idle memory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/load.ts";
import { createLogger } from "../src/logger.ts";
import { startServer } from "../src/server.ts";
import { fmt, load, type Summary } from "./lib.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-bench-"));
const config = parseConfig({ server: { listen: "127.0.0.1:0" }, database: { path: join(dir, "db.sqlite") } }, { source: null, env: {}, baseDir: dir });
// Log lines are built and written as in production, to a sink instead of the terminal.
const gateway = await startServer(config, createLogger({ level: "info", write: () => {} }), { announceSetupUrl: () => {} });
const bare = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) });

const targets = { bare: `http://127.0.0.1:${bare.port}/healthz`, gateway: `${gateway.url}/healthz` };
const rounds: Record<string, Summary[]> = { bare: [], gateway: [] };
for (const concurrency of [1, 16]) {
  rounds.bare = [];
  rounds.gateway = [];
  for (let round = 0; round < 5; round++) {
    for (const name of ["bare", "gateway"] as const) {
      rounds[name]!.push(await load(() => fetch(targets[name]).then((r) => r.arrayBuffer()), { total: 2000, concurrency }));
    }
  }
  const median = (list: Summary[]) => list.sort((a, b) => a.p50 - b.p50)[Math.floor(list.length / 2)]!;
  const b = median(rounds.bare!), g = median(rounds.gateway!);
  console.log(`GET /healthz, concurrency ${concurrency} (median of 5 interleaved rounds of 2000)`);
  console.log(`  bare Bun.serve   ${fmt(b)}`);
  console.log(`  switchboard      ${fmt(g)}`);
  console.log(`  ratio            throughput ${(g.perSecond / b.perSecond).toFixed(2)}x, p50 +${(g.p50 - b.p50).toFixed(3)} ms`);
}
Bun.gc(true);
console.log(`RSS of this process (gateway + bare server + client): ${(process.memoryUsage().rss / 1024 / 1024).toFixed(1)} MiB`);

const t0 = performance.now();
await Bun.password.hash("a-password-to-hash", { algorithm: "argon2id" });
console.log(`argon2id hash of one password (sign-in cost): ${(performance.now() - t0).toFixed(1)} ms`);

bare.stop(true);
await gateway.stop();
rmSync(dir, { recursive: true, force: true });
