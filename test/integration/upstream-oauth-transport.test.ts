// Every request to an OAuth connection's upstream carries the token its subject has at that moment, on
// both HTTP transports (Streamable HTTP: initialize, the GET stream, the gateway's own POSTs, DELETE;
// legacy SSE: the event stream and its POSTs), and a 401 is answered by one retry with a fresh token.
// The fixture upstream sits behind a gate that checks the bearer and records what each request carried.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import type { CredentialSubject, UpstreamCredentials } from "../../src/gateway/upstream/oauth/types.ts";
import { RefreshFailedError } from "../../src/gateway/upstream/oauth/credentials.ts";
import { GatewayHarness, httpSpec, makeCaller, startHttpFixture, textOf, waitUntil, type HttpFixture } from "../support/gateway-harness.ts";

/** Hands out "Bearer t<n>"; a refused value moves it on to the next. Records every ask. */
class RotatingCredentials implements UpstreamCredentials {
  current = 1;
  asked: { who: CredentialSubject; rejected: string | undefined }[] = [];
  /** This user's token endpoint cannot be reached for now. */
  failingUser: string | null = null;
  async authorization(_spec: ConnectionSpec, who: CredentialSubject, options: { rejected?: string } = {}): Promise<string> {
    this.asked.push({ who, rejected: options.rejected });
    if (typeof who === "object" && who.userId === this.failingUser) throw new RefreshFailedError("fixture", "the token endpoint could not be reached");
    if (options.rejected === `Bearer t${this.current}`) this.current++;
    return `Bearer t${this.current}`;
  }
}

/** Forwards to the fixture when the request's bearer is the accepted one, else 401; records what came. */
function startGate(target: string): { url: string; accepted: string; seen: { method: string; path: string; authorization: string | null }[]; stop: () => void } {
  const origin = new URL(target).origin;
  const gate = {
    url: "",
    accepted: "Bearer t1",
    seen: [] as { method: string; path: string; authorization: string | null }[],
    stop: () => void server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      gate.seen.push({ method: req.method, path: url.pathname, authorization });
      if (authorization !== gate.accepted) return new Response("unauthorized", { status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "POST" ? await req.text() : undefined;
      return fetch(origin + url.pathname + url.search, { method: req.method, headers, body, signal: req.signal });
    },
  });
  gate.url = `http://127.0.0.1:${server.port}${new URL(target).pathname}`;
  return gate;
}

for (const transport of ["http", "sse"] as const) {
  describe(`${transport} upstream`, () => {
    let fixture: HttpFixture;
    let harness: GatewayHarness | null = null;
    beforeAll(async () => {
      fixture = await startHttpFixture(transport);
    });
    afterAll(async () => {
      await fixture.stop();
    });
    afterEach(async () => {
      await harness?.close();
      harness = null;
    });

    test("each request carries the subject's token of the moment; a 401 is retried once with a fresh one; no static header or token", async () => {
      const gate = startGate(fixture.url);
      try {
        const credentials = new RotatingCredentials();
        // A static Authorization header or token on an OAuth connection is never sent (the store refuses them too).
        const spec = httpSpec(gate.url, { transport, oauth: { mode: "per_user" }, headers: { Authorization: "Bearer static" }, token: "static-token" });
        harness = new GatewayHarness([spec], { credentials });
        const caller = makeCaller({ "*": ["*"] });
        const client = await harness.connect(spec.id, { caller });
        expect(textOf(await client.callTool({ name: "echo", arguments: { text: "one" } }))).toContain("one");
        expect(credentials.asked.every((a) => typeof a.who === "object" && a.who.userId === caller.user.id)).toBe(true);
        // The token moves on (the upstream now refuses t1): the next call is refused once, then goes through with t2.
        gate.accepted = "Bearer t2";
        const before = gate.seen.length;
        expect(textOf(await client.callTool({ name: "echo", arguments: { text: "two" } }))).toContain("two");
        const after = gate.seen.slice(before).filter((s) => s.method === "POST");
        expect(after.map((s) => s.authorization)).toEqual(["Bearer t1", "Bearer t2"]);
        expect(credentials.asked.some((a) => a.rejected === "Bearer t1")).toBe(true);
        // The client ends its session: the gateway ends the upstream session (DELETE, for Streamable HTTP).
        await (client.transport as StreamableHTTPClientTransport).terminateSession();
        if (transport === "http") await waitUntil(() => gate.seen.some((s) => s.method === "DELETE"), "the upstream session's DELETE");
        expect(gate.seen.length).toBeGreaterThan(2);
        expect(gate.seen.every((s) => s.authorization === "Bearer t1" || s.authorization === "Bearer t2")).toBe(true);
        // SSE: the event stream itself carried it too.
        if (transport === "sse") expect(gate.seen.find((s) => s.method === "GET")?.authorization).toBe("Bearer t1");
      } finally {
        gate.stop();
      }
    });

    test("one user's refresh failing for now is their error only: no backoff, no error state, others call on", async () => {
      const gate = startGate(fixture.url);
      try {
        const credentials = new RotatingCredentials();
        const spec = httpSpec(gate.url, { transport, oauth: { mode: "per_user" } });
        harness = new GatewayHarness([spec], { credentials });
        const alice = { ...makeCaller({ "*": ["*"] }, "key_alice"), user: { ...makeCaller({}).user, id: "user_alice" } };
        const bob = { ...makeCaller({ "*": ["*"] }, "key_bob"), user: { ...makeCaller({}).user, id: "user_bob" } };
        const a = await harness.connect(spec.id, { caller: alice });
        credentials.failingUser = "user_alice";
        const failed = await a.callTool({ name: "echo", arguments: { text: "a" } }).then(
          () => null,
          (e: Error) => e,
        );
        expect(failed?.message).toContain("Cannot refresh the authorization");
        const b = await harness.connect(spec.id, { caller: bob });
        expect(textOf(await b.callTool({ name: "echo", arguments: { text: "b" } }))).toContain("b");
        expect((await harness.runtime(spec.id)).getStatus().state).not.toBe("error");
        credentials.failingUser = null;
        expect(textOf(await a.callTool({ name: "echo", arguments: { text: "a2" } }))).toContain("a2");
      } finally {
        gate.stop();
      }
    });

    test("a static connection's request is not retried on 401 and keeps its own token", async () => {
      const gate = startGate(fixture.url);
      try {
        gate.accepted = "Bearer static-token";
        const spec = httpSpec(gate.url, { transport, token: "static-token" });
        harness = new GatewayHarness([spec]);
        const client = await harness.connect(spec.id);
        expect(textOf(await client.callTool({ name: "echo", arguments: { text: "one" } }))).toContain("one");
        gate.accepted = "Bearer other";
        const before = gate.seen.length;
        const refused = await client.callTool({ name: "echo", arguments: { text: "two" } }).then(
          (r) => r,
          (e: Error) => e,
        );
        expect(refused).toBeInstanceOf(Error);
        expect(gate.seen.slice(before).filter((s) => s.method === "POST").map((s) => s.authorization)).toEqual(["Bearer static-token"]);
      } finally {
        gate.stop();
      }
    });
  });
}
