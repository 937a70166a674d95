// mcp-remote spawned the way Claude Desktop runs it (`mcp-remote <url>` under node, JSON-RPC over its
// stdin and stdout, its own config dir), with the browser replaced: BROWSER names a command that opens
// nothing, and the authorization URL is read from what mcp-remote prints on stderr.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PROXY = join(import.meta.dir, "../../node_modules/mcp-remote/dist/proxy.js");

export type JsonRpcMessage = { jsonrpc: "2.0"; id?: number | string; method?: string; result?: Record<string, unknown>; error?: { code: number; message: string } };

export type McpRemote = {
  /** The tokens mcp-remote saved for its server (its `<hash>_tokens.json`), or null before it has any. */
  savedTokens: () => { access_token: string; refresh_token?: string } | null;
  /** Every stderr line so far (what a user would find in Claude Desktop's log). */
  stderr: string[];
  /** Resolves with the first stderr line from index `from` on (0: one already printed counts) that matches `pattern`. */
  waitForStderr: (pattern: RegExp, from?: number) => Promise<{ line: string; index: number }>;
  /** The authorization URL mcp-remote asks the user to visit. */
  authorizationUrl: () => Promise<string>;
  /** Sends a JSON-RPC request on stdin and resolves with the response of the same id from stdout. */
  request: (method: string, params?: Record<string, unknown>) => Promise<JsonRpcMessage>;
  notify: (method: string, params?: Record<string, unknown>) => void;
  /** Resolves when the process exits, with its code. */
  exited: Promise<number | null>;
  stop: () => Promise<void>;
};

/** Starts mcp-remote for `url` with a fresh config dir; `args` are added after the URL (e.g. "--allow-http"). */
export function startMcpRemote(url: string, args: string[] = []): McpRemote {
  const configDir = mkdtempSync(join(tmpdir(), "switchboard-mcp-remote-"));
  // No display: xdg-open then runs $BROWSER, here a command that succeeds and opens nothing, so no
  // real browser is started and mcp-remote does not try its fallbacks.
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: configDir, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: "true" };
  const child: ChildProcessWithoutNullStreams = spawn("node", [PROXY, url, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  const stderr: string[] = [];
  const stderrWaiters: { pattern: RegExp; from: number; resolve: (hit: { line: string; index: number }) => void }[] = [];
  const pending = new Map<number, (message: JsonRpcMessage) => void>();
  let nextId = 1;

  const lines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
    let buffer = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        onLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    });
  };
  lines(child.stderr, (line) => {
    stderr.push(line);
    const index = stderr.length - 1;
    for (const w of stderrWaiters.splice(0)) {
      if (index >= w.from && w.pattern.test(line)) w.resolve({ line, index });
      else stderrWaiters.push(w);
    }
  });
  lines(child.stdout, (line) => {
    if (line.trim() === "") return;
    const message = JSON.parse(line) as JsonRpcMessage;
    if (typeof message.id === "number" && message.method === undefined) {
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // A request still waiting when the process dies fails with what it printed, instead of hanging.
  void exited.then((code) => {
    for (const [id, resolve] of pending) resolve({ jsonrpc: "2.0", id, error: { code: -1, message: `mcp-remote exited (${code}): ${stderr.slice(-10).join("\n")}` } });
    pending.clear();
  });

  const waitForStderr = (pattern: RegExp, from = 0) =>
    new Promise<{ line: string; index: number }>((resolve) => {
      const index = stderr.findIndex((line, i) => i >= from && pattern.test(line));
      if (index >= 0) resolve({ line: stderr[index]!, index });
      else stderrWaiters.push({ pattern, from, resolve });
    });

  return {
    savedTokens() {
      // mcp-remote keeps its state under <config dir>/mcp-remote-v<n>/<server hash>_<file>.
      for (const dir of readdirSync(configDir).filter((d) => d.startsWith("mcp-remote-"))) {
        const file = readdirSync(join(configDir, dir)).find((f) => f.endsWith("_tokens.json"));
        if (file) return JSON.parse(readFileSync(join(configDir, dir, file), "utf8")) as { access_token: string; refresh_token?: string };
      }
      return null;
    },
    stderr,
    waitForStderr,
    async authorizationUrl() {
      // mcp-remote prints "Please authorize this client by visiting:" and the URL on the next line.
      const found = await waitForStderr(/^https?:\/\/\S+\/oauth\/authorize\?/);
      return found.line.trim();
    },
    request(method, params) {
      const id = nextId++;
      const response = new Promise<JsonRpcMessage>((resolve) => pending.set(id, resolve));
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) })}\n`);
      return response;
    },
    notify(method, params) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method, ...(params ? { params } : {}) })}\n`);
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}
