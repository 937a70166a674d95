// A stdio MCP server as a child process: its own process group (killed as a group, so helpers it
// spawns die with it), an environment stripped to what the connection sets plus PATH, stdout read as
// JSON-RPC lines (garbage lines are reported, not fatal), stderr kept in a bounded ring (stderr-ring.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { LineRing } from "./stderr-ring.ts";
import { descendantsOf, killLeftovers, killOrphans, newProcessTag, PROCESS_TAG_VAR, type FoundProcess } from "./process-tree.ts";

export { LineRing } from "./stderr-ring.ts";

export type StdioOptions = {
  command: string;
  args: string[];
  cwd: string | null;
  env: Record<string, string>;
  stderr: LineRing;
  /** Most bytes of one stdout line before the process is treated as broken. */
  maxMessageBytes: number;
};

/** How much of each end of a dropped, oversized line is kept: enough to find its JSON-RPC id. */
const EXCERPT_BYTES = 1024;

/**
 * Splits stdout into lines in time linear in their size. (The SDK's ReadBuffer concatenates its whole
 * buffer on every chunk and searches it from the start: a 50 MB message took over 10 s of CPU.)
 * A line longer than `maxBytes` is dropped as it arrives, never held: only its first and last
 * EXCERPT_BYTES are kept, handed to `onOversize` (once as it passes the limit, once when it ends)
 * so the request it answers can be found and failed, and the process serves on.
 */
class LineSplitter {
  private pieces: Buffer[] = [];
  private size = 0;
  /** While an oversized line is being skipped: its last bytes so far. */
  private tail: Buffer | null = null;
  constructor(
    private readonly maxBytes: number,
    private readonly onOversize: (excerpt: string, phase: "start" | "end") => void,
  ) {}

  /** The lines `chunk` completes (an oversized one is reported, not returned). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf(10, start); end !== -1; end = chunk.indexOf(10, start)) {
      this.gather(chunk.subarray(start, end));
      if (this.tail) {
        const tail = this.tail;
        this.tail = null;
        this.onOversize(tail.toString("utf8"), "end");
      } else {
        lines.push(Buffer.concat(this.pieces).toString("utf8").replace(/\r$/, ""));
      }
      this.clear();
      start = end + 1;
    }
    if (start < chunk.length) this.gather(chunk.subarray(start));
    return lines;
  }

  /** Adds a piece of the current line, or only its end once the line is over the limit. */
  private gather(piece: Buffer): void {
    if (this.tail) {
      this.tail = Buffer.concat([this.tail, piece.subarray(-EXCERPT_BYTES)]).subarray(-EXCERPT_BYTES);
      return;
    }
    this.size += piece.length;
    if (this.size <= this.maxBytes) {
      this.pieces.push(piece);
      return;
    }
    // Over the limit: what was gathered is let go now, and the rest of the line is not kept.
    // Only the first KiB is copied out (concat's length bound), not the whole gathered line.
    const head = Buffer.concat([...this.pieces, piece], Math.min(EXCERPT_BYTES, this.size));
    this.tail = Buffer.from(piece.subarray(-EXCERPT_BYTES));
    this.clear();
    this.onOversize(head.toString("utf8"), "start");
  }

  clear(): void {
    this.pieces = [];
    this.size = 0;
  }
}

/**
 * On Linux, util-linux's `setpriv --pdeathsig KILL` starts each server (it sets the flag, then execs
 * the command in its own place): the kernel kills the server when the gateway dies, even by SIGKILL,
 * when no shutdown code runs. Without setpriv, a server outliving a killed gateway is left to exit on
 * the end of its stdin, as well-behaved ones do.
 */
const SETPRIV = process.platform === "linux" ? (["/usr/bin/setpriv", "/bin/setpriv"].find((path) => existsSync(path)) ?? null) : null;

/** While a server floods stderr past the ring's budget, how often its stderr pipe is drained. */
const STDERR_DRAIN_MS = 50;

/** Whether leftovers of gateways that died without cleaning up were looked for (once, before the first spawn). */
let orphansKilled = false;

/** Every live process group, with the tag its processes carry, so shutdown can kill them all. */
const LIVE_GROUPS = new Map<number, string>();

/** Kills every stdio process group still running, and whatever those servers started (at gateway shutdown). */
export function killAllStdioProcesses(): void {
  // Descendants are found while their servers still live (once a server dies they are re-parented).
  const known = [...LIVE_GROUPS.keys()].flatMap((pgid) => descendantsOf(pgid));
  for (const pgid of LIVE_GROUPS.keys()) killGroup(pgid, "SIGKILL");
  killLeftovers(known, LIVE_GROUPS.values());
  LIVE_GROUPS.clear();
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** An MCP client transport over a child process's stdin/stdout. */
export class StdioProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /**
   * A stdout message over maxMessageBytes was dropped; `excerpt` is its start (called as it passes the
   * limit) or its end (called when it ends), where its JSON-RPC id usually is.
   */
  onoversize?: (excerpt: string) => void;
  private child: ChildProcess | null = null;
  private readonly lines: LineSplitter;
  private closed = false;
  /** Marks this server and everything it starts (in their environment). */
  private readonly tag = newProcessTag();
  /** The server's descendants, as seen just before it was stopped. */
  private known: FoundProcess[] = [];

  constructor(private readonly options: StdioOptions) {
    this.lines = new LineSplitter(options.maxMessageBytes, (excerpt, phase) => this.oversize(excerpt, phase));
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): Promise<void> {
    if (!orphansKilled) {
      // A gateway killed with SIGKILL could not stop what its servers had detached: this one does.
      orphansKilled = true;
      killOrphans();
    }
    return new Promise((resolve, reject) => {
      const env: Record<string, string> = { ...this.options.env };
      // Only PATH crosses over from the gateway's environment (so commands resolve); nothing else
      // of the gateway's (its secret, tokens) reaches the upstream unless the connection sets it.
      if (env.PATH === undefined && process.env.PATH !== undefined) env.PATH = process.env.PATH;
      // Inherited by whatever the server starts, even what leaves its process group: see finish().
      env[PROCESS_TAG_VAR] = this.tag;
      // Resolved here, so a missing command is reported as such (not as setpriv's failure to run it).
      const command = Bun.which(this.options.command, { PATH: env.PATH ?? "", cwd: this.options.cwd ?? undefined });
      if (!command) {
        const message = `command not found: ${this.options.command}`;
        this.options.stderr.push(`[switchboard] ${message}`);
        reject(new Error(message));
        this.finish();
        return;
      }
      const [program, args] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "--", command, ...this.options.args]] : [command, this.options.args];
      const child = spawn(program, args, {
        cwd: this.options.cwd ?? undefined,
        env,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true, // a new process group: killed as a group, never an orphan after delete
      });
      this.child = child;
      child.once("spawn", () => {
        if (child.pid !== undefined) LIVE_GROUPS.set(child.pid, this.tag);
        resolve();
      });
      child.once("error", (err) => {
        const message = (err as NodeJS.ErrnoException).code === "ENOENT" ? `command not found: ${this.options.command}` : err.message;
        this.options.stderr.push(`[switchboard] ${message}`);
        reject(new Error(message));
        this.finish();
      });
      child.once("exit", (code, signal) => {
        this.options.stderr.push(`[switchboard] process exited (${signal ? `signal ${signal}` : `code ${code}`})`);
        this.finish();
      });
      // Raw bytes: the ring decodes only what it keeps (a flood is counted, not decoded).
      const stderr = child.stderr!;
      stderr.on("data", (chunk: Buffer) => {
        if (this.options.stderr.write(chunk) || stderr.isPaused()) return;
        // Over the budget: reading at the flood's pace is what costs CPU, so the pipe is drained every
        // STDERR_DRAIN_MS instead. The server is slowed while it floods (its writes wait for room in
        // the pipe), never stuck.
        stderr.pause();
        setTimeout(() => stderr.resume(), STDERR_DRAIN_MS).unref();
      });
      child.stdout!.on("data", (chunk: Buffer) => this.read(chunk));
      child.stdin!.on("error", (err) => this.onerror?.(err));
    });
  }

  private oversize(excerpt: string, phase: "start" | "end"): void {
    if (phase === "start") this.options.stderr.push(`[switchboard] dropped a stdout message of more than ${this.options.maxMessageBytes} bytes (gateway.max_response_size)`);
    this.onoversize?.(excerpt);
  }

  private read(chunk: Buffer): void {
    for (const line of this.lines.push(chunk)) {
      let message: JSONRPCMessage;
      try {
        message = deserializeMessage(line);
      } catch (err) {
        // A line that is not JSON-RPC: note it where the admin can see it, and read on.
        this.options.stderr.push(`[switchboard] ignored a stdout line that is not JSON-RPC: ${(err as Error).message.slice(0, 200)}`);
        continue;
      }
      this.onmessage?.(message);
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin || this.closed) return reject(new Error("the stdio server is not running"));
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once("drain", resolve);
    });
  }

  /** Closes stdin, then kills the whole process group. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closed) return;
    child.stdin?.end();
    // Seen now, while the server lives: a child that left the group (setsid) and cleared its
    // environment is still its child, and is killed with it.
    if (child.pid !== undefined) {
      this.known = descendantsOf(child.pid);
      killGroup(child.pid, "SIGTERM");
    }
    const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
    const timer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const pid = this.child?.pid;
    if (pid !== undefined) {
      // The leader is gone; make sure nothing it started lingers: in its group, among the children it
      // had when stopped, or anywhere with its tag (a setsid'd or double-forked daemon).
      killGroup(pid, "SIGKILL");
      killLeftovers(this.known, [this.tag]);
      LIVE_GROUPS.delete(pid);
    }
    this.lines.clear();
    this.onclose?.();
  }
}
