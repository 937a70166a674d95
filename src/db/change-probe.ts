// Telling cheaply whether anything was committed to the database since the last look, by this
// process or any other (the `switchboard key revoke` CLI, say): caches keyed on the database's
// content (the API key verifier) compare the probe's value before trusting themselves.
import type { Database } from "bun:sqlite";
import type { SQL } from "bun";
import type { DbHandle } from "./client.ts";
import type { Db } from "./store.ts";

/**
 * A value that changes whenever a transaction commits to the database. The SQLite probes below answer
 * at once; an engine that must ask its server (PostgreSQL) may answer with a promise.
 */
export type ChangeProbe = () => string | Promise<string>;

const SQL_PROBE = "SELECT total_changes() || '/' || (SELECT data_version FROM pragma_data_version) AS v";
/** How often the SQL probe double-checks the shared-memory one (belt and braces). */
const SQL_RECHECK_MS = 500;

/** The portable probe: this connection's total_changes() and the data_version other connections move. */
export function sqlChangeProbe(sqlite: Database): () => string {
  const query = sqlite.query<{ v: string }, []>(SQL_PROBE);
  return () => query.get()!.v;
}

/**
 * In WAL mode SQLite keeps a header in `<db>-shm`, shared by every connection, whose change counter
 * (iChange, offset 8) goes up with each commit, and whose mxFrame and salt (offsets 16 and 32) move
 * with every frame written or WAL restart (https://sqlite.org/walformat.html). Reading it through a
 * shared mapping costs well under a microsecond, where a query costs several. A torn read can only
 * look like a change (a cache dropped for nothing), never hide one. Where the file cannot be mapped,
 * the SQL probe alone is used; it also runs every half second, in case the mapping ever went stale.
 */
export function createChangeProbe(sqlite: Database, path: string): () => string {
  const sqlProbe = sqlChangeProbe(sqlite);
  let header: DataView;
  try {
    const map = Bun.mmap(`${path}-shm`, { shared: true });
    if (map.byteLength < 48) return sqlProbe;
    header = new DataView(map.buffer, map.byteOffset, 48);
  } catch {
    return sqlProbe;
  }
  let sqlValue = sqlProbe();
  let sqlCheckedAt = Date.now();
  return () => {
    // The mapping outlives the connection: touching the connection (a property read, no query) makes
    // a closed database fail the probe rather than vouch for the cache.
    void sqlite.inTransaction;
    const now = Date.now();
    if (now - sqlCheckedAt >= SQL_RECHECK_MS) {
      sqlValue = sqlProbe();
      sqlCheckedAt = now;
    }
    return `${header.getUint32(8, true)}:${header.getUint32(16, true)}:${header.getUint32(32, true)}:${sqlValue}`;
  };
}

/**
 * The change feed on PostgreSQL, shared by every replica: the one-row counter that the triggers of
 * migration 0003_change_feed_at_commit bump at commit, in the same transaction as each write to a
 * cached table (keys, users, OAuth clients, grants and tokens, agents, connections). Once a revocation
 * has committed on any replica, the next read here sees the new version, so the very next request on
 * every replica drops its caches. One indexed single-row read per call, a prepared statement on the
 * pool; it rejects when the database cannot be reached, and the caller must then refuse, not trust its cache.
 * (LISTEN/NOTIFY could skip the read, but a notification arrives after the commit, asynchronously:
 * a request in between would be served from the revoked cache.)
 */
export function postgresChangeProbe(db: Db): () => Promise<string> {
  const client = (db as unknown as { $client: SQL }).$client;
  return async () => {
    const [row] = (await client`select version from switchboard_changes where id = 1`) as { version: string | number | bigint }[];
    if (!row) throw new Error("the change feed's row (switchboard_changes id 1) is missing");
    return String(row.version);
  };
}

/** The change probe of an open database, whichever its engine: the WAL header on SQLite, the feed on PostgreSQL. */
export function createChangeFeed(handle: DbHandle): ChangeProbe {
  if (handle.sqlite) return createChangeProbe(handle.sqlite, handle.sqlite.filename);
  return postgresChangeProbe(handle.db);
}

/**
 * A lookup of database rows by key (a token's hash), cached in memory and dropped whole whenever the
 * probe says anything was committed, so a revocation applies on the very next call. Unknown keys are
 * not cached (nothing for a stranger to grow); past `limit` entries the cache starts over.
 * Loads are asynchronous, so a row is cached only if no change was seen while it loaded: a load begun
 * before a revocation and finished after it must not outlive the change it raced.
 */
export function probedCache<T>(
  probe: ChangeProbe,
  load: (key: string) => Promise<T | null>,
  limit = 50_000,
): (key: string) => Promise<T | null> {
  const cache = new Map<string, T>();
  let seen = "";
  // Moves on every change seen; a load stores its row only if it has not moved since the load began.
  let generation = 0;
  const observe = (version: string): void => {
    if (version === seen) return;
    cache.clear();
    seen = version;
    generation++;
  };
  return async (key) => {
    // The SQLite probes answer synchronously: no await (and no interleaving) on the hot path.
    const version = probe();
    observe(typeof version === "string" ? version : await version);
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const started = generation;
    const loaded = await load(key);
    if (loaded === null) return null;
    if (generation !== started) return loaded;
    if (cache.size >= limit) cache.clear();
    cache.set(key, loaded);
    return loaded;
  };
}
