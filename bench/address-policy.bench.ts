// What the upstream address policy and redaction cost: the address check before a fetch (a name
// resolved through the system resolver, an IP literal) against a bare loopback fetch in the same run
// (and one with redirect: "manual", which the SDK's fetchWithinOrigin always asks for),
// and redact() on a typical error text. Loopback only.
import { AddressPolicy } from "../src/gateway/upstream/address-policy.ts";
import { redact, secretsOf } from "../src/gateway/redact.ts";
import { fmt, load, type Summary } from "./lib.ts";

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
const policy = new AddressPolicy({ upstream_deny: ["10.0.0.0/8", "192.168.0.0/16"], upstream_allow: [] });
const checked = policy.fetch();
const targets = {
  "fetch (no check)": () => fetch(`http://127.0.0.1:${server.port}/`).then((r) => r.arrayBuffer()),
  "fetch, redirect: manual": () => fetch(`http://127.0.0.1:${server.port}/`, { redirect: "manual" }).then((r) => r.arrayBuffer()),
  "checked fetch, IP literal": () => checked(`http://127.0.0.1:${server.port}/`).then((r) => r.arrayBuffer()),
  "checked fetch, localhost": () => checked(`http://localhost:${server.port}/`).then((r) => r.arrayBuffer()),
};
const rounds = new Map<string, Summary[]>();
for (let round = 0; round < 5; round++) {
  for (const [name, call] of Object.entries(targets)) {
    const list = rounds.get(name) ?? [];
    list.push(await load(call, { total: 2000, concurrency: 8 }));
    rounds.set(name, list);
  }
}
console.log("GET over loopback, concurrency 8 (median of 5 interleaved rounds of 2000)");
for (const [name, list] of rounds) {
  const median = list.sort((a, b) => a.p50 - b.p50)[Math.floor(list.length / 2)]!;
  console.log(`  ${name.padEnd(28)} ${fmt(median)}`);
}
server.stop(true);

const n = 100_000;
let t0 = performance.now();
for (let i = 0; i < n; i++) policy.refusal(i % 2 ? "127.0.0.1" : "::ffff:169.254.169.254");
console.log(`refusal() of one address: ${(((performance.now() - t0) / n) * 1000).toFixed(2)} µs`);

const secrets = secretsOf({ token: "a-token-of-forty-characters-0123456789ab", headers: { "X-Key": "header-value-0123456789" }, env: {} });
const text = `Error POSTing to endpoint: {"error":"unauthorized","detail":"${"x".repeat(300)}"}`;
t0 = performance.now();
for (let i = 0; i < n; i++) redact(text, secrets);
console.log(`redact() of a 350-character error, ${secrets.length} secret forms: ${(((performance.now() - t0) / n) * 1000).toFixed(2)} µs`);
