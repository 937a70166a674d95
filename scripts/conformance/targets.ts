// The servers the suite is run against: the conformance fixture and server-everything, directly
// and through Switchboard (behind the auth forwarder). Each start function registers its cleanup.
import { resolve } from "node:path";
import { startForwarder } from "../../test/fixtures/auth-forwarder.ts";
import { BlockedError, type TestGateway } from "./gateway.ts";
import { freePort, startProcess } from "./processes.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const FIXTURE = resolve(ROOT, "test/fixtures/conformance-server.ts");
const EVERYTHING = resolve(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** Cleanups run in reverse order of their registration. */
export class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
    this.steps.length = 0;
  }
}

/** The fixture in HTTP mode; resolves with its /mcp URL once it prints "listening <url>". */
export async function startFixtureHttp(cleanup: Cleanup): Promise<string> {
  const child = await startProcess([process.execPath, FIXTURE, "--http", "--port", "0"], { ready: /^listening (\S+)$/ });
  cleanup.add(child.stop);
  return child.match[1]!;
}

/** server-everything in its streamableHttp mode, which listens on $PORT (all interfaces) at /mcp. */
export async function startEverythingHttp(cleanup: Cleanup): Promise<string> {
  const port = freePort();
  const child = await startProcess([process.execPath, EVERYTHING, "streamableHttp"], { ready: /listening on port (\d+)/, env: { PORT: String(port) } });
  cleanup.add(child.stop);
  return `http://127.0.0.1:${port}/mcp`;
}

/** A forwarder adding `token` in front of `target`; returns its base URL. */
export function forward(cleanup: Cleanup, target: string, token: string): string {
  const forwarder = startForwarder({ target, token });
  cleanup.add(forwarder.stop);
  return forwarder.url;
}

/** The stdio connections the gateway spawns: absolute paths, since the process gets only PATH. */
export const STDIO_FIXTURE = { command: process.execPath, args: [FIXTURE, "--stdio"], cwd: ROOT };
export const STDIO_EVERYTHING = { command: process.execPath, args: [EVERYTHING, "stdio"], cwd: ROOT };

/** Registers a connection and returns the suite URL for it: forwarder + /mcp/<id>. */
export async function gatewayTarget(gateway: TestGateway, forwarderUrl: string, connection: Parameters<TestGateway["register"]>[0] | { id: string }): Promise<string> {
  const id = "id" in connection ? connection.id : await gateway.register(connection);
  const url = `${forwarderUrl}/mcp/${id}`;
  await probe(url);
  return url;
}

/**
 * An agent whose only connection is `connectionId` (everything selected, no prefixing), and the
 * suite URL for it: the suite must see through the agent exactly what it sees through the connection.
 */
export async function agentTarget(gateway: TestGateway, forwarderUrl: string, options: { slug: string; connectionId: string }): Promise<string> {
  const id = await gateway.registerAgent({
    slug: options.slug,
    connections: [{ connection: options.connectionId, tools: "all", resources: "all", prompts: "all" }],
  });
  const url = `${forwarderUrl}/mcp/agent/${id}`;
  await probe(url);
  return url;
}

/** One initialize through the whole chain, so a missing route shows up as one clear message, not 32 failures. */
async function probe(url: string): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "conformance-probe", version: "1.0.0" } } }),
  });
  const text = await response.text();
  if (!response.ok) throw new BlockedError(`initialize at ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  const session = response.headers.get("mcp-session-id");
  if (session) await fetch(url, { method: "DELETE", headers: { "mcp-session-id": session } });
}
