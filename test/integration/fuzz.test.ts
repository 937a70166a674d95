// The HTTP fuzz test: a few thousand malformed JSON-RPC messages, paths, headers and bodies at every
// route family of a real listening gateway (a fixture upstream behind an HTTP and a stdio connection,
// and an agent over both). None may get a 5xx or a stack trace, nothing may be logged as unhandled,
// and the gateway still answers afterwards. Seeded: FUZZ_SEED=<n> replays a run, FUZZ_COUNT=<n> sizes it,
// FUZZ_SHOW="<family> <status>" (e.g. "mcp 404") prints every request that got that answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { createLogger } from "../../src/logger.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { describeRequest, generateRequests, type FuzzRequest, type FuzzTargets } from "../support/fuzz.ts";
import { FIXTURE, PROTOCOL_VERSION, rpcMessages, startHttpFixture, type HttpFixture } from "../support/gateway-harness.ts";
import { MCP_ACCEPT, mintKey } from "../support/key-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
const CONCURRENCY = 6;
const MAX_BODY = 64 * 1024;
/** A request that has no answer in this long is a hang, which is a finding too. */
const ANSWER_WITHIN_MS = 20_000;
const OPEN_STREAM_MS = 1_000;
const STACK = /\n\s+at .+[:(]\d+:\d+|\.[cm]?[jt]sx?:\d+:\d+/;

/**
 * Known 5xx answers that belong to another part of issue 9, each named, for the lead to remove once
 * that part is merged. Keep this list empty when nothing outside this part fails.
 */
const KNOWN_ELSEWHERE: { name: string; matches: (req: FuzzRequest, status: number) => boolean }[] = [];

const lines: Record<string, unknown>[] = [];
const logger = createLogger({ level: "info", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
let upstream: HttpFixture;
let running: TestServer;
let targets: FuzzTargets;

async function initialize(path: string, token: string): Promise<string> {
  const res = await fetch(`${running.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } }),
  });
  await res.text();
  const session = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !session) throw new Error(`initialize ${path}: ${res.status}`);
  return session;
}

/** A tools/call in a fresh session: the proof that the gateway still serves after the fuzz. */
async function callEcho(path: string, token: string, tool: string): Promise<string> {
  const session = await initialize(path, token);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION };
  await (await fetch(`${running.url}${path}`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
  const res = await fetch(`${running.url}${path}`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: tool, arguments: { text: "still here" } } }) });
  const [answer] = (await rpcMessages(res)) as { result?: { content?: { text: string }[] } }[];
  return answer?.result?.content?.[0]?.text ?? JSON.stringify(answer);
}

beforeAll(async () => {
  upstream = await startHttpFixture("http");
  running = await startTestServer({
    logger,
    overrides: {
      server: { max_body_size: `${MAX_BODY / 1024}KiB` },
      stdio: { allowed_commands: [process.execPath] },
      // Declared in the file, so they are read-only: junk deletes and edits cannot remove the fuzz's targets.
      connections: [
        { slug: "fz-http", transport: "http", url: upstream.url },
        { slug: "fz-stdio", transport: "stdio", command: process.execPath, args: [FIXTURE] },
      ],
      agents: [{ slug: "fz-agent", tools: { "fz-http": ["echo"], "fz-stdio": ["add"] } }],
    },
  });
  const deps = running.server.deps;
  const admin = await insertUser(deps, "admin", "fuzz-admin@example.com");
  const full = (await mintKey(deps, admin, { self: ["*"], "*": ["*"] })).token;
  const idOf = async (noun: "connections" | "agents", slug: string) => {
    const body = (await (await fetch(`${running.url}/api/v1/${noun}`, { headers: { authorization: `Bearer ${full}` } })).json()) as Record<string, { id: string; slug: string }[]>;
    const found = (body[noun] ?? []).find((item) => item.slug === slug);
    if (!found) throw new Error(`${slug} not listed: ${JSON.stringify(body).slice(0, 300)}`);
    return found.id;
  };
  const httpConn = await idOf("connections", "fz-http");
  const stdioConn = await idOf("connections", "fz-stdio");
  const agent = await idOf("agents", "fz-agent");
  const tokens = { full, narrow: (await mintKey(deps, admin, { self: ["WHOAMI"] })).token, conn: (await mintKey(deps, admin, { [httpConn]: ["*"] })).token };
  const sessions: Record<string, string> = {};
  for (const path of [`/mcp/${httpConn}`, "/mcp/fz-http", `/mcp/${stdioConn}`, "/mcp/fz-stdio", `/mcp/agent/${agent}`, "/mcp/agent/fz-agent"]) sessions[path] = await initialize(path, full);
  targets = {
    httpConn,
    stdioConn,
    agent,
    tokens,
    sessionCookie: await sessionCookieFor(deps, admin, running.config.security.session_ttl),
    sessions,
    publicUrl: running.config.server.public_url,
    maxBodyBytes: MAX_BODY,
  };
});

afterAll(async () => {
  await running?.cleanup();
  await upstream?.stop();
});

/** Reads at most 1 MiB of a body, and stops an event stream (which may stay open) after a short look. */
async function readSome(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const streaming = (res.headers.get("content-type") ?? "").includes("text/event-stream");
  const stop = setTimeout(() => void reader.cancel().catch(() => {}), streaming ? 100 : ANSWER_WITHIN_MS);
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.length > 1 << 20) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    // A cancelled stream: what was read is enough.
  } finally {
    clearTimeout(stop);
  }
  return text;
}

function chunkedBody(size: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      controller.enqueue(chunk.subarray(0, Math.min(chunk.length, size - sent)));
      sent += chunk.length;
    },
  });
}

/**
 * Bun's HTTP parser answers a request line whose version it cannot read (HTTP/9, or a space in the
 * target that shifts the version) 505, rightly (RFC 9110 §15.6.6), before the app; nothing in the
 * app answers 505.
 */
function unsupportedVersion(req: FuzzRequest, status: number): boolean {
  return status === 505 && req.kind === "raw";
}

type Outcome = { status: number | null; body: string; error?: string };

async function send(req: FuzzRequest): Promise<Outcome> {
  if (req.kind === "raw") return sendRaw(req.bytes);
  const body = req.body === undefined ? undefined : typeof req.body === "string" ? req.body : chunkedBody(req.body.chunked);
  // A GET that may open a standalone event stream gets its headers with the first event (a
  // keep-alive, 15 s on): an answer not there within a moment is an open stream, not a hang.
  const mayStream = req.method === "GET" && (req.headers.accept ?? "").includes("text/event-stream") && req.path.startsWith("/mcp/");
  try {
    const res = await fetch(`${running.url}${req.path}`, {
      method: req.method,
      headers: req.headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(mayStream ? OPEN_STREAM_MS : ANSWER_WITHIN_MS),
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    return { status: res.status, body: await readSome(res) };
  } catch (err) {
    const message = (err as Error).message;
    // The server may refuse an oversized body by closing the socket mid-upload: that is no 5xx.
    if (req.body !== undefined && typeof req.body !== "string") return { status: null, body: "", error: message };
    if ((err as Error).name === "TimeoutError" && mayStream) return { status: null, body: "", error: "an open event stream" };
    if ((err as Error).name === "TimeoutError") return { status: null, body: "", error: `no answer in ${ANSWER_WITHIN_MS} ms` };
    return { status: null, body: "", error: message };
  }
}

/** Writes raw bytes and reads the status line (the HTTP parser may also just close the socket). */
function sendRaw(bytes: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(running.server.port, "127.0.0.1");
    let received = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve({ status: match ? Number(match[1]) : null, body: received.slice(0, 1 << 16) });
    };
    // A request that announces a body it never sends leaves the server waiting; that is fine.
    const timer = setTimeout(done, 3000);
    socket.on("connect", () => socket.write(Buffer.from(bytes, "latin1")));
    socket.on("data", (data) => {
      received += data.toString("latin1");
      if (received.length > 1 << 16) done();
    });
    socket.on("end", done);
    socket.on("error", done);
    socket.on("close", done);
  });
}

test(`fuzz: ${COUNT} malformed requests at every route family, no 5xx, no stack, still serving`, async () => {
  console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${COUNT} requests`);
  const requests = generateRequests(SEED, COUNT, targets);
  const findings: string[] = [];
  const skipped = new Map<string, number>();
  const statuses = new Map<string, number>();
  const errors = new Map<string, number>();
  const slowest: { ms: number; what: string }[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests.length) {
      const req = requests[next++]!;
      const sent = performance.now();
      const outcome = await send(req);
      const took = performance.now() - sent;
      if (slowest.length < 5 || took > slowest[slowest.length - 1]!.ms) {
        slowest.push({ ms: Math.round(took), what: `${outcome.status} ${describeRequest(req).slice(0, 240)}` });
        slowest.sort((a, b) => b.ms - a.ms).splice(5);
      }
      const key = `${req.family} ${outcome.status ?? "none"}`;
      if (process.env.FUZZ_SHOW === key) console.log(`${key}: ${describeRequest(req)} -> ${outcome.body.slice(0, 300)}`);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (outcome.error !== undefined) errors.set(outcome.error.slice(0, 80), (errors.get(outcome.error.slice(0, 80)) ?? 0) + 1);
      if (outcome.error?.startsWith("no answer")) findings.push(`${outcome.error}: ${describeRequest(req)}`);
      if (outcome.status !== null && outcome.status >= 500 && !unsupportedVersion(req, outcome.status)) {
        const known = KNOWN_ELSEWHERE.find((k) => k.matches(req, outcome.status!));
        if (known) skipped.set(known.name, (skipped.get(known.name) ?? 0) + 1);
        else findings.push(`${outcome.status}: ${describeRequest(req)} -> ${outcome.body.slice(0, 200)}`);
      }
      const stack = STACK.exec(outcome.body);
      if (stack) findings.push(`stack trace in the answer: ${describeRequest(req)} -> …${outcome.body.slice(Math.max(0, stack.index - 300), stack.index + 200)}…`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`fuzz: ${requests.length} requests in ${Math.round(performance.now() - started)} ms`);
  console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  console.log(`fuzz: slowest: ${slowest.map((s) => `\n  ${s.ms} ms ${s.what}`).join("")}`);
  if (errors.size > 0) console.log(`fuzz: requests the client could not complete: ${JSON.stringify(Object.fromEntries(errors))}`);
  if (skipped.size > 0) console.log(`fuzz: known 5xx elsewhere, skipped: ${JSON.stringify(Object.fromEntries(skipped))}`);

  // Still alive and still serving: health, and a real tool call through a connection and the agent.
  expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  expect(await callEcho(`/mcp/${targets.httpConn}`, targets.tokens.full, "echo")).toBe("still here");
  expect(await callEcho(`/mcp/agent/${targets.agent}`, targets.tokens.full, "echo")).toBe("still here");

  const unhandled = lines.filter((l) => l.msg === "unhandled error").map((l) => JSON.stringify(l).slice(0, 600));
  expect({ seed: SEED, findings: findings.slice(0, 30), count: findings.length }).toEqual({ seed: SEED, findings: [], count: 0 });
  expect({ seed: SEED, unhandled: unhandled.slice(0, 10) }).toEqual({ seed: SEED, unhandled: [] });
  // Every request was answered or refused by the HTTP layer: the log saw no 5xx of its own either.
  const logged5xx = lines.filter((l) => l.msg === "request" && typeof l.status === "number" && l.status >= 500);
  expect(logged5xx.length).toBe([...skipped.values()].reduce((a, b) => a + b, 0));
}, 120_000);
