// Finding what stdio servers left behind through /proc: by tag, and the orphans of a gateway that died
// without cleaning up (only those: a live gateway's processes are never touched).
import { afterEach, describe, expect, test } from "bun:test";
import { killLeftovers, killOrphans, PROCESS_TAG_VAR, taggedProcesses } from "../../src/gateway/upstream/process-tree.ts";
import { isAlive, waitUntil } from "../support/gateway-harness.ts";

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});

/** A sleeping process in a session of its own, its environment carrying `tag`. */
function sleeper(tag: string): number {
  const child = Bun.spawn(["setsid", "sleep", "600"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [PROCESS_TAG_VAR]: tag }, stdio: ["ignore", "ignore", "ignore"] });
  started.push(child.pid);
  return child.pid;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

describe("process-tree", () => {
  test("taggedProcesses finds exactly the processes carrying the tag", async () => {
    const mine = sleeper(`${process.pid}-one`);
    const other = sleeper(`${process.pid}-two`);
    await waitUntil(() => taggedProcesses([`${process.pid}-one`]).length > 0, "the sleeper to be seen", 5000);
    expect(taggedProcesses([`${process.pid}-one`])).toEqual([mine]);
    killLeftovers([], [`${process.pid}-one`]);
    await waitUntil(() => !isAlive(mine), "the tagged sleeper to die", 5000);
    expect(isAlive(other)).toBe(true);
  });

  test("killOrphans kills what a dead gateway's servers left, and nothing of a live gateway's", async () => {
    const dead = await deadPid();
    const orphan = sleeper(`${dead}-left-behind`);
    const ours = sleeper(`${process.pid}-still-ours`);
    const anotherGateways = sleeper(`1-another-gateway`); // pid 1 always runs
    await waitUntil(() => taggedProcesses([`${dead}-left-behind`]).length > 0, "the orphan to be seen", 5000);
    expect(killOrphans()).toBeGreaterThanOrEqual(1);
    await waitUntil(() => !isAlive(orphan), "the orphan to die", 5000);
    expect([isAlive(ours), isAlive(anotherGateways)]).toEqual([true, true]);
  });
});
