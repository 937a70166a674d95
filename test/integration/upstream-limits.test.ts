// gateway.max_response_size on every path an upstream answer takes: a hostile HTTP upstream's answers
// with Content-Length, chunked, until close, one huge event-stream event, an event-stream line that
// never ends, and a stdio server's oversized line. Each fails the call with the limit's JSON-RPC error
// (not a hang, not a dropped connection), and the next call on the same connection works.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { rejectionOf } from "../support/errors.ts";
import { GatewayHarness, httpSpec, stdioSpec, textOf, whoami, within, type RpcError } from "../support/gateway-harness.ts";
import { startHostileSseUpstream, startHostileUpstream, type HostileUpstream } from "../fixtures/oversized-upstream.ts";

setDefaultTimeout(30_000);

const LIMIT = 64 * 1024;
const LIMIT_MESSAGE = "The upstream's answer exceeded gateway.max_response_size (64 KiB)";

let harness: GatewayHarness | null = null;
let upstream: HostileUpstream | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
  upstream?.stop();
  upstream = null;
});

function hostile(): HostileUpstream {
  upstream = startHostileUpstream();
  return upstream;
}

describe("an HTTP upstream's answer over gateway.max_response_size", () => {
  for (const tool of ["json-length", "json-chunked", "json-close", "sse-event", "sse-line"]) {
    test(`${tool}: the call fails with the limit's error, and the next call works`, async () => {
      const spec = httpSpec(hostile().url, { maxResponseBytes: LIMIT });
      harness = new GatewayHarness([spec]);
      const client = await harness.connect(spec.id);
      // Under the limit, the same framing passes whole: the limit refuses size, not the framing.
      const small = await client.callTool({ name: tool === "sse-line" ? "sse-event" : tool, arguments: { bytes: 1000 } });
      expect(textOf(small)).toBe("x".repeat(1000));
      // The hang guard only: the limit must trip long before the call timeout (10 s).
      const err = (await within(rejectionOf(client.callTool({ name: tool, arguments: { bytes: 64 * 1024 * 1024 } })), 8000, `${tool} to fail`)) as RpcError;
      expect(err.code).toBe(ErrorCode.InternalError);
      expect(err.message).toContain(LIMIT_MESSAGE);
      expect(err.message).not.toContain("xxxx");
      // The connection was not dropped for it: same upstream session, next call answered.
      expect((await harness.gateway.status(spec.id)).state).toBe("connected");
      expect(textOf(await client.callTool({ name: "echo", arguments: { text: "next" } }))).toBe("next");
    });
  }
});

describe("a legacy HTTP+SSE upstream's event over gateway.max_response_size", () => {
  test("the call fails with the limit's error, and the next call works on a fresh upstream session", async () => {
    upstream = startHostileSseUpstream();
    const spec = httpSpec(upstream.url, { transport: "sse", maxResponseBytes: LIMIT });
    harness = new GatewayHarness([spec]);
    const client = await harness.connect(spec.id);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "before" } }))).toBe("before");
    const err = (await within(rejectionOf(client.callTool({ name: "sse-event", arguments: { bytes: 64 * 1024 * 1024 } })), 8000, "the call to fail")) as RpcError;
    expect(err.code).toBe(ErrorCode.InternalError);
    expect(err.message).toContain(LIMIT_MESSAGE);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "next" } }))).toBe("next");
  });
});

describe("a stdio server's message over gateway.max_response_size", () => {
  test("the call fails with the limit's error, the line is dropped unread, and the same process serves on", async () => {
    const spec = stdioSpec({ maxResponseBytes: LIMIT });
    harness = new GatewayHarness([spec]);
    const client = await harness.connect(spec.id);
    const before = await whoami(client);
    expect(textOf(await client.callTool({ name: "big", arguments: { bytes: 1000 } }))).toBe("x".repeat(1000));
    const err = (await within(rejectionOf(client.callTool({ name: "big", arguments: { bytes: 4 * 1024 * 1024 } })), 8000, "the big call to fail")) as RpcError;
    expect(err.code).toBe(ErrorCode.InternalError);
    expect(err.message).toContain(LIMIT_MESSAGE);
    expect(harness.gateway.stderr(spec.id).filter((l) => l.includes(`dropped a stdout message of more than ${LIMIT} bytes`))).toHaveLength(1);
    // Not restarted: the process that wrote the line answers the next call.
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "next" } }))).toBe("next");
    expect((await whoami(client)).pid).toBe(before.pid);
  });
});
