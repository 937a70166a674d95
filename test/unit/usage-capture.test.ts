// The usage capture's pure parts: what name a request is about, how payloads are masked and cut, and
// a session's recorder on its own (begun, noted, answered or not), with an in-memory sink.
import { describe, expect, test } from "bun:test";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import { payloadText, requestName, SessionUsage, type UsagePolicy } from "../../src/gateway/usage-capture.ts";

const actor = { userId: "user_1", credentialKind: "api_key" as const, credentialId: "key_1" };
const target = { kind: "connection" as const, id: "conn_1", slug: "one" };

function recorder(policy: Partial<UsagePolicy> = {}): { usage: SessionUsage; records: UsageRecord[] } {
  const records: UsageRecord[] = [];
  const usage = new SessionUsage({ record: (r) => void records.push(r) }, target, () => "sess-1", { secrets: [], patterns: [], payloadMaxBytes: null, ...policy });
  return { usage, records };
}

describe("requestName", () => {
  test("the tool, prompt, resource URI, completion ref or task a request is about; null for lists", () => {
    expect(requestName("tools/call", { name: "echo" })).toBe("echo");
    expect(requestName("prompts/get", { name: "greet" })).toBe("greet");
    expect(requestName("resources/read", { uri: "file:///a" })).toBe("file:///a");
    expect(requestName("completion/complete", { ref: { type: "ref/resource", uri: "file:///{x}" } })).toBe("file:///{x}");
    expect(requestName("tasks/get", { taskId: "t1" })).toBe("t1");
    expect(requestName("tools/list", {})).toBeNull();
    // A name that is not a string is no name.
    expect(requestName("tools/call", { name: { evil: true } })).toBeNull();
  });
});

describe("payloadText", () => {
  const redaction = { secrets: ["s3cr3t-value"], patterns: [/sk-[a-z0-9]+/g] };

  test("masks the secrets and the patterns", () => {
    const { text, truncated } = payloadText({ a: "s3cr3t-value", b: "sk-abc123" }, redaction, 1000);
    expect(text).toBe('{"a":"[redacted]","b":"[redacted]"}');
    expect(truncated).toBe(false);
  });

  test("cuts to the cap after masking, so a cut never leaves part of a secret", () => {
    const value = { pad: "x".repeat(10), secret: "s3cr3t-value", more: "y".repeat(100) };
    const { text, truncated } = payloadText(value, redaction, 30);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(30);
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain("s3c");
  });

  test("a cut inside a multi-byte character drops the partial character", () => {
    const { text } = payloadText("ééééé", { secrets: [], patterns: [] }, 4);
    expect(text).toBe('"é');
  });
});

describe("SessionUsage", () => {
  test("one record per answered request; an answer for a request never begun records nothing", () => {
    const { usage, records } = recorder();
    usage.begin({ id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } }, 50, actor, "192.0.2.1");
    usage.answered({ id: 1, result: { content: [] } }, '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
    usage.answered({ id: 1, result: {} }, "{}");
    usage.answered({ id: 2, result: {} }, "{}");
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ method: "tools/call", name: "echo", upstreamName: "echo", connectionId: "conn_1", outcome: "ok", requestBytes: 50, address: "192.0.2.1", sessionId: "sess-1", payload: null });
    expect(records[0]!.responseBytes).toBe(48);
  });

  test("error messages are masked with the patterns and capped even when payloads are off", () => {
    const { usage, records } = recorder({ patterns: [/sk-[a-z0-9]+/g], secrets: ["hunter22"] });
    usage.begin({ id: 1, method: "tools/call", params: { name: "t" } }, 10, actor, null);
    usage.answered({ id: 1, error: { code: -32000, message: `bad key sk-abc123 and hunter22 ${"z".repeat(1000)}` } }, "{}");
    const message = records[0]!.errorMessage!;
    expect(message).not.toContain("sk-abc123");
    expect(message).not.toContain("hunter22");
    expect(message.length).toBeLessThanOrEqual(500);
    expect(records[0]!.errorCode).toBe("-32000");
  });

  test("a refusal noted wins over the answer's shape, and clears the upstream name", () => {
    const { usage, records } = recorder();
    usage.begin({ id: "a", method: "tools/call", params: { name: "secret_tool" } }, 10, actor, null);
    usage.note("a", { refused: "no permission" });
    usage.note("a", { upstreamName: "secret_tool" });
    usage.answered({ id: "a", result: { isError: true } }, "{}");
    expect(records[0]).toMatchObject({ outcome: "refused", upstreamName: null, errorMessage: "no permission" });
  });

  test("cancelled is a timeout; what a closed session never answered is an error; each once", () => {
    const { usage, records } = recorder();
    usage.begin({ id: 1, method: "tools/call", params: { name: "slow" } }, 10, actor, null);
    usage.begin({ id: 2, method: "resources/read", params: { uri: "x://y" } }, 10, actor, null);
    usage.unanswered(1, "cancelled");
    usage.close();
    usage.close();
    expect(records.map((r) => [r.name, r.outcome])).toEqual([["slow", "timeout"], ["x://y", "error"]]);
  });

  test("payloads off: the arguments are not even kept while the request runs", () => {
    const { usage, records } = recorder();
    usage.begin({ id: 1, method: "tools/call", params: { name: "t", arguments: { card: "4111" } } }, 10, actor, null);
    const pending = [...(usage as unknown as { pending: Map<unknown, unknown> }).pending.values()];
    expect(pending).toHaveLength(1);
    expect(JSON.stringify(pending)).not.toContain("4111");
    usage.answered({ id: 1, result: {} }, "{}");
    expect(records[0]!.payload).toBeNull();
  });
});
