// The recorder in a real process: a SIGTERM (stopping the recorder, as the server's shutdown does)
// loses nothing; a kill -9 loses at most the batch still queued, and what was written is a prefix in order.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { useTempDirs } from "../support/temp-dir.ts";
import { waitForLine } from "../support/streams.ts";

const tempDir = useTempDirs("switchboard-usage-");
const FIXTURE = join(import.meta.dir, "../fixtures/usage-recording.ts");
const ROWS = 1_050;
const FLUSH_ROWS = 100;

async function recordInChild(): Promise<{ child: Bun.Subprocess<"ignore", "pipe", "inherit">; path: string; written: number }> {
  const path = join(tempDir(), "switchboard.db");
  const child = Bun.spawn([process.execPath, FIXTURE, path, String(ROWS), String(FLUSH_ROWS)], { stdout: "pipe", stderr: "inherit" });
  children.push(child);
  const line = await waitForLine(child.stdout, (l) => l.startsWith("recorded "));
  return { child, path, written: Number(line.split(" ")[1]) };
}

function namesIn(path: string): string[] {
  const sqlite = new Database(path);
  try {
    return (sqlite.query("SELECT name FROM usage_events ORDER BY id").all() as { name: string }[]).map((r) => r.name);
  } finally {
    sqlite.close();
  }
}

const children: Bun.Subprocess[] = [];
afterEach(() => {
  // A failed assertion must not leave a child holding the test run open.
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

const inOrder = (n: number): string[] => Array.from({ length: n }, (_, i) => `call_${i}`);

describe("usage recording across process ends", () => {
  test("SIGTERM: every recorded row is in the database", async () => {
    const { child, path, written } = await recordInChild();
    // Some rows are still queued when the signal comes, so the flush at stop is what is tested.
    expect(written).toBeLessThan(ROWS);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(namesIn(path)).toEqual(inOrder(ROWS));
  });

  test("kill -9: at most the last batch (under flush_rows) is missing, and the rest is the first rows in order", async () => {
    const { child, path, written } = await recordInChild();
    child.kill("SIGKILL");
    await child.exited;
    const names = namesIn(path);
    expect(names).toHaveLength(written);
    expect(ROWS - names.length).toBeLessThan(FLUSH_ROWS);
    expect(ROWS - names.length).toBeGreaterThan(0);
    expect(names).toEqual(inOrder(written));
  });
});
