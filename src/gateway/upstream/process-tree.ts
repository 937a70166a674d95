// Finding what a stdio server started, so nothing outlives its connection: killing the process group
// misses a child that left it (setsid, setpgid) and a daemon that double-forked. Each server gets a
// unique tag in its environment, which its descendants inherit; on Linux /proc shows, for processes of
// the gateway's own user, each process's children and its initial environment. Elsewhere (no /proc)
// only the process group is killed.
import { readdirSync, readFileSync } from "node:fs";

/** The environment variable that marks a server and everything it starts. */
export const PROCESS_TAG_VAR = "SWITCHBOARD_PROCESS_TAG";

/**
 * A new, unguessable tag for one spawned server: "<gateway pid>-<uuid>", so that what a gateway killed
 * without any chance to clean up (SIGKILL, a crash) left behind can be recognised by the next one.
 */
export function newProcessTag(): string {
  return `${process.pid}-${crypto.randomUUID()}`;
}

/** A process as found in /proc: its pid and start time (so a reused pid is never mistaken for it). */
export type FoundProcess = { pid: number; start: string };

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // "<pid> (<comm>) <state> <ppid> …": comm may hold spaces and parentheses, so count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/children`, "latin1").split(" ").filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** Every live descendant of `pid` (children, their children, …), found through /proc while `pid` lives. */
export function descendantsOf(pid: number): FoundProcess[] {
  const found: FoundProcess[] = [];
  const seen = new Set<number>([pid]);
  const queue = childrenOf(pid);
  while (queue.length > 0) {
    const child = queue.shift()!;
    if (seen.has(child)) continue;
    seen.add(child);
    const start = startTime(child);
    if (start === null) continue;
    found.push({ pid: child, start });
    queue.push(...childrenOf(child));
  }
  return found;
}

/**
 * The pids of live processes whose environment carries one of `tags`. /proc/<pid>/environ is readable
 * only for the gateway's own user's processes, which are the only ones a stdio server it started can
 * have become (without setuid programs), so nothing is missed for lack of permission.
 */
export function taggedProcesses(tags: Iterable<string>): number[] {
  const needles = [...tags].map((tag) => Buffer.from(`${PROCESS_TAG_VAR}=${tag}\0`));
  if (needles.length === 0) return [];
  return scanEnvironments((environ) => needles.some((needle) => environ.includes(needle)));
}

/** The pids of the gateway user's live processes (other than the gateway) whose environment passes `test`. */
function scanEnvironments(test: (environ: Buffer) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, or another user's
    }
    if (test(environ)) found.push(Number(entry));
  }
  return found;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * SIGKILLs the processes left by stdio servers of gateways that are no longer running (killed with
 * SIGKILL, crashed): their tag names a gateway pid that is gone. A live gateway's processes (another
 * instance on the same host, this one's) are never touched. Returns how many were found.
 */
export function killOrphans(): number {
  const prefix = Buffer.from(`${PROCESS_TAG_VAR}=`);
  const orphans = scanEnvironments((environ) => {
    const at = environ.indexOf(prefix);
    if (at === -1 || (at > 0 && environ[at - 1] !== 0)) return false;
    const owner = /^(\d+)-/.exec(environ.subarray(at + prefix.length, at + prefix.length + 24).toString("latin1"));
    return owner !== null && Number(owner[1]) !== process.pid && !isRunning(Number(owner[1]));
  });
  for (const pid of orphans) kill(pid, "SIGKILL");
  return orphans.length;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs what a server left behind: `known` (its descendants seen while it lived, if still the same
 * processes) and every process carrying one of `tags`, until a scan finds none (a process may fork
 * while it is being killed; a few rounds settle it).
 */
export function killLeftovers(known: FoundProcess[], tags: Iterable<string>): void {
  for (const { pid, start } of known) if (startTime(pid) === start) kill(pid, "SIGKILL");
  const tagList = [...tags];
  for (let round = 0; round < 5; round++) {
    const found = taggedProcesses(tagList);
    if (found.length === 0) return;
    for (const pid of found) kill(pid, "SIGKILL");
  }
}
