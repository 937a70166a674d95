// Resumable streams (Streamable HTTP "Resumability and Redelivery"): a client that lost a stream
// resumes it with GET + Last-Event-ID and gets what followed, exactly once and in order, whether the
// gateway answered the request directly or through the SDK's transport; the SDK client's own
// reconnection works through the gateway; nobody else's events are ever replayed; the buffer is bounded.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import { DEFAULT_EVENT_BUFFER, RESUME_RETRY_MS } from "../../src/gateway/event-store.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { silentLogger } from "../../src/logger.ts";
import { GatewayHarness, makeCaller, stdioSpec, textOf, waitUntil, within, type GatewayCaller } from "../support/gateway-harness.ts";

setDefaultTimeout(20_000);

const LATEST = "2025-11-25";
const OLDER = "2025-06-18";

let harness: GatewayHarness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

/** The reconnection delay these tests inject, so an SDK client's reconnect does not wait the default second. */
const FAST_RETRY_MS = 20;

/** A harness telling clients FAST_RETRY_MS, or (with `retry: "default"`) the gateway's default. */
function start(retry: "fast" | "default" = "fast"): { h: GatewayHarness; id: string } {
  const spec = stdioSpec();
  harness = new GatewayHarness([spec], retry === "fast" ? { resumeRetryMs: FAST_RETRY_MS } : {});
  return { h: harness, id: spec.id };
}

type SseEvent = { id?: string; retry?: number; data: string };

/** Reads an event stream one event at a time, as a client does (and can stop whenever it likes). */
class EventReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(response: Response) {
    this.reader = response.body!.getReader();
  }

  /** The next event, or null when the stream ends. */
  async next(): Promise<SseEvent | null> {
    for (;;) {
      const end = this.buffer.indexOf("\n\n");
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event: SseEvent = { data: "" };
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") event.id = value;
          else if (field === "retry") event.retry = Number(value);
          else if (field === "data") event.data += value;
        }
        return event;
      }
      const { value, done } = await this.reader.read();
      if (done) return null;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Every event left, until the stream ends. */
  async rest(): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let e = await this.next(); e; e = await this.next()) events.push(e);
    return events;
  }

  /** Drops the connection, as a client whose network went away. */
  async drop(): Promise<void> {
    await this.reader.cancel();
  }
}

/** What an event carries, in short: "progress:<n>", "result:<text>", the method, or "priming". */
function label(event: SseEvent): string {
  if (event.data === "") return "priming";
  const m = JSON.parse(event.data) as { method?: string; params?: { progress?: number }; result?: unknown; error?: { message: string } };
  if (m.method === "notifications/progress") return `progress:${m.params?.progress}`;
  if (m.result !== undefined) return `result:${textOf(m.result)}`;
  if (m.error !== undefined) return `error:${m.error.message}`;
  return m.method ?? "?";
}

/** The number an id of ours ends with (its place in the session's order). */
function seqOf(id: string | undefined): number {
  return Number(id!.slice(id!.lastIndexOf("_") + 1));
}

function headers(session: string | null, version: string, extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": version, ...(session ? { "mcp-session-id": session } : {}), ...extra };
}

/** Opens a session speaking `version` with raw requests; returns its id and the initialize response. */
async function openSession(h: GatewayHarness, id: string, caller: GatewayCaller, version = LATEST): Promise<{ session: string; init: Response }> {
  const init = await h.fetch(id, caller, `http://localhost/mcp/${id}`, {
    method: "POST",
    headers: headers(null, version),
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  const session = init.headers.get("mcp-session-id")!;
  const initialized = await h.fetch(id, caller, `http://localhost/mcp/${id}`, { method: "POST", headers: headers(session, version), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  expect(initialized.status).toBe(202);
  return { session, init };
}

function post(h: GatewayHarness, id: string, caller: GatewayCaller, session: string, body: unknown, version = LATEST): Promise<Response> {
  return h.fetch(id, caller, `http://localhost/mcp/${id}`, { method: "POST", headers: headers(session, version), body: JSON.stringify(body) });
}

function resume(h: GatewayHarness, id: string, caller: GatewayCaller, session: string | null, lastEventId: string, version = LATEST): Promise<Response> {
  const { "content-type": _ct, ...get } = headers(session, version, { accept: "text/event-stream", "last-event-id": lastEventId });
  return h.fetch(id, caller, `http://localhost/mcp/${id}`, { method: "GET", headers: get });
}

const slowCall = (rpcId: number | string, ms: number, steps: number) => ({
  jsonrpc: "2.0",
  id: rpcId,
  method: "tools/call",
  params: { name: "slow", arguments: { ms, steps }, _meta: { progressToken: "t" } },
});
const echoCall = (rpcId: number | string, text: string) => ({ jsonrpc: "2.0", id: rpcId, method: "tools/call", params: { name: "echo", arguments: { text } } });

describe("resuming a dropped stream", () => {
  const caller = makeCaller({ "*": ["*"] });

  test("a call's stream read part-way, dropped, then resumed with Last-Event-ID gives the rest and the result, exactly once, in order", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const first = new EventReader(await post(h, id, caller, session, slowCall(1, 300, 3)));
    const priming = (await first.next())!;
    expect(label(priming)).toBe("priming");
    expect(priming.retry).toBe(FAST_RETRY_MS);
    const progress1 = (await first.next())!;
    expect(label(progress1)).toBe("progress:1");
    await first.drop();

    const res = await resume(h, id, caller, session, progress1.id!);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const rest = await within(new EventReader(res).rest(), 5000, "the resumed stream to end");
    expect(rest.map(label)).toEqual(["progress:2", "progress:3", "result:done"]);
    // Ids in the session's order, all after the one the client had.
    const seqs = [progress1, ...rest].map((e) => seqOf(e.id));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  test("resumed after the answer is over: the missed response, then the stream ends; asking again gets nothing", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const events = await new EventReader(await post(h, id, caller, session, echoCall(2, "hello"))).rest();
    expect(events.map(label)).toEqual(["priming", "result:hello"]);
    // As if only the priming event had arrived before the connection dropped.
    const replay = await new EventReader(await resume(h, id, caller, session, events[0]!.id!)).rest();
    expect(replay).toEqual([events[1]!]);
    const again = await resume(h, id, caller, session, events[1]!.id!);
    expect(again.status).toBe(400);
    expect(await again.text()).not.toContain("hello");
  });

  test("a call cancelled after its stream started: a resume says the stream has ended (no empty stream to reconnect to forever)", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const first = new EventReader(await post(h, id, caller, session, slowCall(5, 5000, 50)));
    expect(label((await first.next())!)).toBe("priming");
    const progress1 = (await within(first.next(), 5000, "the first progress"))!;
    expect(label(progress1)).toBe("progress:1");
    await first.drop();
    const cancel = await post(h, id, caller, session, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 5, reason: "no longer needed" } });
    expect(cancel.status).toBe(202);
    await waitUntil(async () => ![...(await h.runtime(id)).sessions].some((s) => (s as unknown as { busy: boolean }).busy), "the cancelled call to end");
    const res = await resume(h, id, caller, session, progress1.id!);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("ended");
  });

  test("a request the SDK's transport answers (a batch) resumes the same way", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const first = new EventReader(await post(h, id, caller, session, [slowCall("b", 300, 3)]));
    const priming = (await first.next())!;
    expect(label(priming)).toBe("priming");
    // The SDK's transport tells the same injected delay as the direct answers.
    expect(priming.retry).toBe(FAST_RETRY_MS);
    const progress1 = (await first.next())!;
    expect(label(progress1)).toBe("progress:1");
    await first.drop();
    const res = await resume(h, id, caller, session, progress1.id!);
    expect(res.status).toBe(200);
    const reader = new EventReader(res);
    const rest: SseEvent[] = [];
    // The SDK keeps a resumed stream open after the response; read up to it.
    while (rest.length === 0 || !label(rest[rest.length - 1]!).startsWith("result")) rest.push((await within(reader.next(), 5000, "the next resumed event"))!);
    expect(rest.map(label)).toEqual(["progress:2", "progress:3", "result:done"]);
    await reader.drop();
  });

  test("the GET stream's notifications missed while disconnected are replayed on resume", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const get = (lastEventId?: string) =>
      h.fetch(id, caller, `http://localhost/mcp/${id}`, {
        method: "GET",
        headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": LATEST, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
      });
    const listening = new EventReader(await get());
    await new EventReader(await post(h, id, caller, session, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "add_tool", arguments: { name: "one" } } })).rest();
    const changed = (await within(listening.next(), 5000, "tools/list_changed on the GET stream"))!;
    expect(label(changed)).toBe("notifications/tools/list_changed");
    expect(changed.id).toMatch(/^_GET_stream_\d+$/);
    await listening.drop();
    await new EventReader(await post(h, id, caller, session, { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "add_tool", arguments: { name: "two" } } })).rest();
    const resumed = new EventReader(await get(changed.id));
    const missed = (await within(resumed.next(), 5000, "the missed list_changed"))!;
    expect(label(missed)).toBe("notifications/tools/list_changed");
    expect(seqOf(missed.id)).toBeGreaterThan(seqOf(changed.id));
    await resumed.drop();
  });

  test("the SDK client's own reconnection works through the gateway: a call whose stream is cut still gets every progress and its result", async () => {
    const { h, id } = start();
    await expectReconnectingCall((req) => h.fetch(id, caller, req), `http://localhost/mcp/${id}`, "slow");
  });

  test("and through an agent", async () => {
    const { h, id } = start();
    const agent: AgentSpec = {
      id: "agent_00000000-0000-4000-8000-0000000000aa",
      slug: "resumer",
      title: "resumer",
      description: "",
      instructions: "",
      enabled: true,
      prefixTools: false,
      connections: [{ connectionId: id, tools: [{ name: "slow", alias: "take_your_time" }], resources: "none", prompts: "none" }],
      fromConfig: false,
    };
    const gateway = new Gateway({
      sessionIdleMs: 60_000,
      maxSessions: 10,
      stderrLines: 10,
      maxBodyBytes: 4 << 20,
      logger: silentLogger,
      lookup: async (connectionId) => (connectionId === id ? h.specs.get(id)! : null),
      lookupAgent: async (agentId) => (agentId === agent.id ? agent : null),
      resumeRetryMs: FAST_RETRY_MS,
    });
    try {
      await gateway.refresh(id);
      await expectReconnectingCall((req) => gateway.handleAgent(req, agent, caller), `http://localhost/mcp/agent/${agent.id}`, "take_your_time");
    } finally {
      await gateway.close();
    }
  });
});

/**
 * Calls `tool` (the fixture's slow tool) with an SDK client over a network that cuts the first call's
 * stream right after its first progress event: the client must reconnect with GET + Last-Event-ID on
 * its own and still get every progress notification, once each, and the result.
 */
async function expectReconnectingCall(serve: (req: Request) => Promise<Response>, url: string, tool: string): Promise<void> {
  const seen: { method: string; lastEventId: string | null }[] = [];
  let cut = false;
  const flaky = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    seen.push({ method: req.method, lastEventId: req.headers.get("last-event-id") });
    const body = req.method === "POST" ? await req.clone().text() : "";
    const res = await serve(req);
    if (cut || !body.includes('"tools/call"') || !res.body) return res;
    cut = true;
    const upstream = res.body.getReader();
    let text = "";
    const decoder = new TextDecoder();
    const severed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await upstream.read();
        if (done) return controller.close();
        controller.enqueue(value);
        text += decoder.decode(value, { stream: true });
        if (text.includes("notifications/progress")) {
          await upstream.cancel();
          controller.close();
        }
      },
    });
    return new Response(severed, { status: res.status, headers: res.headers });
  };
  const client = new Client({ name: "resumer", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: flaky }));
  try {
    const progress: number[] = [];
    const result = await within(client.callTool({ name: tool, arguments: { ms: 600, steps: 3 } }, undefined, { onprogress: (p) => void progress.push(p.progress) }), 8000, "the cut call to finish");
    expect(cut).toBe(true);
    expect(textOf(result)).toBe("done");
    expect(progress).toEqual([1, 2, 3]);
    expect(seen.some((s) => s.method === "GET" && s.lastEventId?.startsWith("direct-"))).toBe(true);
  } finally {
    await client.close();
  }
}

describe("over a real connection", () => {
  const caller = makeCaller({ "*": ["*"] });

  for (const [what, batch] of [["a directly answered call", false], ["a call the SDK's transport answers (a batch)", true]] as const) {
    test(`a client whose TCP connection is cut mid-call resumes on a new one and gets the rest: ${what}`, async () => {
      const { h, id } = start();
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: (req) => h.fetch(id, caller, req) });
      try {
        const url = `http://127.0.0.1:${server.port}/mcp/${id}`;
        const init = await fetch(url, {
          method: "POST",
          headers: headers(null, LATEST),
          body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: "tcp", version: "1" } } }),
        });
        const session = init.headers.get("mcp-session-id")!;
        await init.text();
        await (await fetch(url, { method: "POST", headers: headers(session, LATEST), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
        const abort = new AbortController();
        const first = new EventReader(await fetch(url, { method: "POST", headers: headers(session, LATEST), body: JSON.stringify(batch ? [slowCall(1, 300, 3)] : slowCall(1, 300, 3)), signal: abort.signal }));
        expect(label((await first.next())!)).toBe("priming");
        const progress1 = (await first.next())!;
        expect(label(progress1)).toBe("progress:1");
        abort.abort();
        const { "content-type": _ct, ...get } = headers(session, LATEST, { accept: "text/event-stream", "last-event-id": progress1.id! });
        const res = await fetch(url, { method: "GET", headers: get });
        expect(res.status).toBe(200);
        const reader = new EventReader(res);
        const rest: SseEvent[] = [];
        // The SDK keeps a resumed stream open after the response; read up to it.
        while (rest.length === 0 || !label(rest[rest.length - 1]!).startsWith("result")) rest.push((await within(reader.next(), 5000, "the next resumed event"))!);
        expect(rest.map(label)).toEqual(["progress:2", "progress:3", "result:done"]);
        await reader.drop();
      } finally {
        void server.stop(true);
      }
    });
  }
});

describe("who may resume", () => {
  const alice = makeCaller({ "*": ["*"] }, "key_alice");
  const bob = makeCaller({ "*": ["*"] }, "key_bob");

  test("another key, no session, another session of the same key, and made-up ids all get nothing", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, alice);
    const events = await new EventReader(await post(h, id, alice, session, echoCall(1, "alice's secret"))).rest();
    const primingId = events[0]!.id!;
    // The SDK transport's own stream ids too (the initialize answer's).
    const { init } = await openSession(h, id, alice);
    const sdkId = (await new EventReader(init).rest())[0]!.id!;
    expect(sdkId).not.toStartWith("direct-");

    const refusals: [string, Response, number][] = [
      ["bob on alice's session", await resume(h, id, bob, session, primingId), 404],
      ["no session at all", await resume(h, id, alice, null, primingId), 400],
    ];
    const { session: other } = await openSession(h, id, alice);
    refusals.push(["alice's other session, a direct stream's id", await resume(h, id, alice, other, primingId), 400]);
    refusals.push(["alice's other session, an SDK stream's id", await resume(h, id, alice, other, sdkId), 400]);
    for (const made of ["direct-999_3", "direct-1_999", "_GET_stream_1", "nonsense", "direct-1_01"]) {
      refusals.push([`made-up ${made}`, await resume(h, id, alice, other, made), 400]);
    }
    for (const [who, res, status] of refusals) {
      const text = await res.text();
      expect({ who, status: res.status }).toEqual({ who, status });
      expect({ who, leaked: text.includes("secret") }).toEqual({ who, leaked: false });
      expect(res.headers.get("content-type")).not.toBe("text/event-stream");
    }
    // Alice herself, on her session, still can.
    expect(await new EventReader(await resume(h, id, alice, session, primingId)).rest()).toEqual([events[1]!]);
  });
});

describe("the event buffer", () => {
  const caller = makeCaller({ "*": ["*"] });

  test("it keeps a bounded number of events per session: past the cap the oldest are gone (a resume from them is refused), recent ones stay", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const first = await new EventReader(await post(h, id, caller, session, echoCall(0, "first"))).rest();
    // Each call keeps two events (priming, response): enough calls to pass the cap.
    let last: SseEvent[] = [];
    for (let i = 1; i <= DEFAULT_EVENT_BUFFER.maxEvents / 2 + 10; i++) last = await new EventReader(await post(h, id, caller, session, echoCall(i, `n${i}`))).rest();
    const old = await resume(h, id, caller, session, first[0]!.id!);
    expect(old.status).toBe(400);
    expect(await old.text()).not.toContain("first");
    expect(await new EventReader(await resume(h, id, caller, session, last[0]!.id!)).rest()).toEqual([last[1]!]);
  });

  test("the session's end frees it: its ids resume nothing, and the session is gone", async () => {
    const { h, id } = start();
    const { session } = await openSession(h, id, caller);
    const events = await new EventReader(await post(h, id, caller, session, echoCall(1, "bye"))).rest();
    expect(await new EventReader(await resume(h, id, caller, session, events[0]!.id!)).rest()).toEqual([events[1]!]);
    const deleted = await h.fetch(id, caller, `http://localhost/mcp/${id}`, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": LATEST } });
    expect(deleted.status).toBe(200);
    const res = await resume(h, id, caller, session, events[0]!.id!);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("bye");
  });
});

describe("protocol versions", () => {
  const caller = makeCaller({ "*": ["*"] });

  test("clients before 2025-11-25 get event ids but no priming event (its empty data broke them); from 2025-11-25 they get one, with the default retry", async () => {
    // The gateway's default (not the tests' fast one) is what clients are told.
    const { h, id } = start("default");
    const older = await openSession(h, id, caller, OLDER);
    const olderInit = await new EventReader(older.init).rest();
    expect(olderInit.map(label)).toEqual(["result:"]);
    expect(olderInit[0]!.id).toBeDefined();
    const olderCall = await new EventReader(await post(h, id, caller, older.session, echoCall(1, "x"), OLDER)).rest();
    expect(olderCall.map(label)).toEqual(["result:x"]);
    expect(olderCall[0]!.id).toStartWith("direct-");
    expect(olderCall[0]!.retry).toBeUndefined();

    const latest = await openSession(h, id, caller, LATEST);
    const latestInit = await new EventReader(latest.init).rest();
    expect(latestInit.map(label)).toEqual(["priming", "result:"]);
    expect(RESUME_RETRY_MS).toBe(1000);
    expect(latestInit[0]!.retry).toBe(RESUME_RETRY_MS);
    const latestCall = await new EventReader(await post(h, id, caller, latest.session, echoCall(1, "y"))).rest();
    expect(latestCall.map(label)).toEqual(["priming", "result:y"]);
    expect(latestCall[0]!.retry).toBe(RESUME_RETRY_MS);
  });
});
