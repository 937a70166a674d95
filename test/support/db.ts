// A fresh, migrated database per test, in its own temp dir, closed and removed afterwards.
import { afterEach } from "bun:test";
import { join } from "node:path";
import { openDatabase, type SqliteHandle } from "../../src/db/client.ts";
import { useTempDirs } from "./temp-dir.ts";

/** Registers cleanup in the calling test file and returns an opener of fresh databases. */
export function useTestDatabase(): () => SqliteHandle {
  const tempDir = useTempDirs("switchboard-db-");
  const opened: SqliteHandle[] = [];
  afterEach(() => {
    for (const handle of opened.splice(0)) handle.close();
  });
  return () => {
    const handle = openDatabase({ path: join(tempDir(), "switchboard.db"), busyTimeoutMs: 1_000 });
    opened.push(handle);
    return handle;
  };
}
