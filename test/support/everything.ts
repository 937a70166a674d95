// @modelcontextprotocol/server-everything as a real upstream for tests: over Streamable HTTP or the
// legacy HTTP+SSE transport in a child process, or the command of a stdio connection.
import { resolve } from "node:path";
import { freePort, startProcess } from "../../scripts/conformance/processes.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ENTRY = resolve(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** The fields of a stdio connection that runs server-everything. */
export const EVERYTHING_STDIO = { command: process.execPath, args: [ENTRY, "stdio"], cwd: ROOT };

export type Everything = { url: string; port: number; stop: () => Promise<void> };

/** Starts server-everything over HTTP (`streamableHttp`: /mcp, `sse`: /sse) on `port` (default: a free one). */
export async function startEverything(transport: "streamableHttp" | "sse", options: { port?: number } = {}): Promise<Everything> {
  const port = options.port ?? freePort();
  const child = await startProcess([process.execPath, ENTRY, transport], { ready: /listening on port|running on port/i, env: { PORT: String(port) }, cwd: ROOT });
  return { url: `http://127.0.0.1:${port}/${transport === "sse" ? "sse" : "mcp"}`, port, stop: child.stop };
}
