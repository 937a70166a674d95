// @modelcontextprotocol/server-everything as a real upstream for tests: over Streamable HTTP or the
// legacy HTTP+SSE transport in a child process, or the command of a stdio connection.
import { resolve } from "node:path";
import { freePort, startProcess } from "../../scripts/conformance/processes.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ENTRY = resolve(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const FAST_CLOCK = resolve(ROOT, "test/fixtures/fast-clock.ts");

/** The fields of a stdio connection that runs server-everything. */
export const EVERYTHING_STDIO = { command: process.execPath, args: [ENTRY, "stdio"], cwd: ROOT };

/** The same, with its timers ten times faster (simulated logs and resource updates every 0.5 s, not 5 s). */
export const EVERYTHING_STDIO_FAST = { command: process.execPath, args: ["--preload", FAST_CLOCK, ENTRY, "stdio"], cwd: ROOT };

export type Everything = { url: string; port: number; stop: () => Promise<void> };

/**
 * Starts server-everything over HTTP (`streamableHttp`: /mcp, `sse`: /sse) on `port` (default: a free
 * one); with `fastClock`, its timers run ten times faster.
 */
export async function startEverything(transport: "streamableHttp" | "sse", options: { port?: number; fastClock?: boolean } = {}): Promise<Everything> {
  const port = options.port ?? freePort();
  const command = [process.execPath, ...(options.fastClock ? ["--preload", FAST_CLOCK] : []), ENTRY, transport];
  const child = await startProcess(command, { ready: /listening on port|running on port/i, env: { PORT: String(port) }, cwd: ROOT });
  return { url: `http://127.0.0.1:${port}/${transport === "sse" ? "sse" : "mcp"}`, port, stop: child.stop };
}
