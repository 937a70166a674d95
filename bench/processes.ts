// Server processes for the benchmarks: started, watched through /proc (memory, children) and always
// stopped again, by the pids this file started and the descendants they were seen to have.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, …), or null when the process is gone. */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) the processes have used so far, in ms (Linux counts it in 10 ms ticks). */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after "(comm)": state is field 3, utime 14 and stime 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

export function mib(kb: number | null): string {
  return kb === null ? "   n/a" : `${(kb / 1024).toFixed(1).padStart(6)} MiB`;
}

/** Live (not zombie) processes as pid → ppid. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "<pid> (<comm>) <state> <ppid> …": comm may hold spaces and parentheses, so read after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z") table.set(Number(name), Number(ppid));
    } catch {
      // exited while listing
    }
  }
  return table;
}

/** The live children of `pid` (by ppid). */
export function childrenOf(pid: number): number[] {
  return [...processTable()].filter(([, ppid]) => ppid === pid).map(([child]) => child);
}

/** Every live descendant of `pid`. */
export function descendantsOf(pid: number): number[] {
  const table = [...processTable()];
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** A TCP port that was free a moment ago (for servers that must be told their port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export type Started = { name: string; pid: number; child: ChildProcess };

/** The processes a benchmark started; `stopAll` ends them, and whatever they started, by pid. */
export class ProcessSet {
  private readonly started: Started[] = [];

  /**
   * Starts `cmd` with stdout piped (for a readiness line) or ignored and stderr appended to `logFile`.
   * stdin is ignored: supergateway, for one, stops when its stdin closes.
   */
  start(name: string, cmd: string[], options: { logFile: string; cwd?: string; stdout?: "pipe" | "log" }): Started {
    const log = openSync(options.logFile, "a");
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: options.cwd, env: process.env, stdio: ["ignore", options.stdout === "pipe" ? "pipe" : log, log] });
    closeSync(log);
    if (child.pid === undefined) throw new Error(`${name} did not start: ${cmd.join(" ")}`);
    const started = { name, pid: child.pid, child };
    this.started.push(started);
    return started;
  }

  /** The pids of the processes started here and not yet stopped. */
  pids(): number[] {
    return this.started.map((s) => s.pid);
  }

  /** The started process with this pid. */
  find(pid: number): Started | undefined {
    return this.started.find((s) => s.pid === pid);
  }

  /** Stops every process started here. */
  stopAll(graceMs = 6000): Promise<void> {
    return this.terminate(this.started.splice(0).reverse(), graceMs);
  }

  /** Stops one process started here. */
  stop(started: Started, graceMs = 6000): Promise<void> {
    const index = this.started.indexOf(started);
    return index < 0 ? Promise.resolve() : this.terminate(this.started.splice(index, 1), graceMs);
  }

  /** SIGTERM to each, then SIGKILL to whatever of them and their descendants outlives `graceMs`. */
  private async terminate(victims: Started[], graceMs: number): Promise<void> {
    const family = new Set<number>();
    for (const s of victims) {
      family.add(s.pid);
      for (const d of descendantsOf(s.pid)) family.add(d);
      try {
        process.kill(s.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    const live = () => {
      const table = processTable();
      return [...family].filter((pid) => table.has(pid));
    };
    const end = Date.now() + graceMs;
    while (live().length > 0 && Date.now() < end) await Bun.sleep(50);
    for (const pid of live()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.all(victims.map((s) => (s.child.exitCode !== null || s.child.signalCode !== null ? null : new Promise((r) => s.child.once("exit", r)))));
  }
}

/** The first line of `stream` that satisfies `test`, within `timeoutMs`. */
export async function firstLine(stream: NodeJS.ReadableStream, test: (line: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    let found = false;
    const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms (got ${JSON.stringify(buffer.slice(0, 200))})`)), timeoutMs);
    // Kept reading after the match (and dropped), so the process never blocks on a full pipe.
    stream.on("data", (chunk: Buffer) => {
      if (found) return;
      buffer += chunk.toString("utf8");
      const line = buffer.split("\n").slice(0, -1).find(test); // complete lines only
      if (line === undefined) return;
      found = true;
      buffer = "";
      clearTimeout(timer);
      resolve(line);
    });
  });
}

/** Polls `probe` until it resolves true or `timeoutMs` passes (then throws, naming `what`). */
export async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what} not ready within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ""}`);
    await Bun.sleep(100);
  }
}
