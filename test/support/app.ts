// The one way tests build a Switchboard: the test config, the app with the real deps from compose()
// over a temp data dir (driven with app.request()), or a real server on a free port; and their cleanup.
import type { UsageSink } from "../../src/domain/monitoring/types.ts";
import { afterAll, afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { parseConfig, type Config } from "../../src/config/load.ts";
import type { Role, User } from "../../src/domain/access/users.ts";
import { compose } from "../../src/compose.ts";
import type { RunningGateway } from "../../src/gateway/serving.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import { silentLogger, type Logger } from "../../src/logger.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { createSignInUser, sessionCookieFor, signIn, TEST_PASSWORD_COST } from "./users.ts";
import { freshPostgresDatabase, TEST_ON_POSTGRES, warmPostgres } from "./postgres.ts";

export const TEST_SECRET = "http-test-secret-0123456789-abcdefghijkl";
export const PUBLIC_URL = "http://switchboard.test";

/** Overrides of the test config: merged into [server] and [security], or whole sections. */
export type ConfigOverrides = {
  server?: Record<string, unknown>;
  security?: Record<string, unknown>;
  stdio?: Record<string, unknown>;
  gateway?: Record<string, unknown>;
  oauth?: Record<string, unknown>;
  monitoring?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  cluster?: Record<string, unknown>;
  /** The database section whole (say, a PostgreSQL url); by default a SQLite file in the data dir. */
  database?: Record<string, unknown>;
  connections?: Record<string, unknown>[];
  agents?: Record<string, unknown>[];
};

/** A config whose database lives in `dir`, with a fixed secret and (unless overridden) PUBLIC_URL. */
export function testConfig(dir: string, overrides: ConfigOverrides = {}): Config {
  const { server, security, database, ...sections } = overrides;
  return parseConfig(
    {
      server: { listen: "127.0.0.1:0", public_url: PUBLIC_URL, log_level: "error", ...server },
      database: database ?? { path: join(dir, "data", "switchboard.db") },
      security: { secret: TEST_SECRET, ...security },
      ...Object.fromEntries(Object.entries(sections).filter(([, section]) => section !== undefined)),
    },
    { source: null, env: {}, baseDir: dir },
  );
}

export type TestApp = {
  app: Hono<AppEnv>;
  deps: AppDeps;
  config: Config;
  dir: string;
  /** A request to the app; `path` is joined to public_url so Host matches it. */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** Signs in through POST /admin/login and returns the `sb_session=…` cookie pair. */
  signIn: (email: string, password?: string) => Promise<string>;
  /** A session cookie for `user` made directly (no sign-in round trip, no password check). */
  cookieFor: (user: User) => Promise<string>;
  /** Creates a user who signs in with `password` (PASSWORD by default). */
  createUser: (email: string, role: Role, password?: string) => Promise<User>;
  /** Closes the database alone, the app left running over it (a lost database); close() still cleans up. */
  closeDatabase: () => Promise<void>;
  /** Closes the database and removes the data dir (unless it was passed in). */
  close: () => Promise<void>;
};

export type TestAppOptions = {
  overrides?: ConfigOverrides;
  logger?: Logger;
  /** A fake to put in place of the real gateway (the same contract: control, serving, lifecycle). */
  gateway?: RunningGateway;
  /** A data dir to reuse (to restart over the same database); it is left in place on close. */
  dir?: string;
  /** Accept client ID metadata documents served over http from 127.0.0.1 (a local fixture); never a setting. */
  allowLoopbackClientMetadata?: boolean;
  /** Where the gateway records MCP requests (a test's in-memory sink). */
  usage?: UsageSink;
};

if (TEST_ON_POSTGRES) warmPostgres();

/** On a PostgreSQL run, each data dir's database: made on first use, found again by a test that restarts over the same dir. */
const POSTGRES_OF_DIR = new Map<string, { url: string; drop: () => Promise<void> }>();

/**
 * The overrides a builder runs with: on a PostgreSQL run (SWITCHBOARD_TEST_DATABASE=postgres) and
 * unless the test names a database itself, `database.url` is the data dir's own fresh database.
 */
async function withTestDatabase(dir: string, overrides: ConfigOverrides = {}): Promise<ConfigOverrides> {
  if (!TEST_ON_POSTGRES || overrides.database) return overrides;
  let database = POSTGRES_OF_DIR.get(dir);
  if (!database) {
    database = await freshPostgresDatabase();
    POSTGRES_OF_DIR.set(dir, database);
  }
  return { ...overrides, database: { url: database.url, pool_size: 4 } };
}

/** Drops the data dir's PostgreSQL database, if it has one (when the dir itself is removed). */
async function dropTestDatabase(dir: string): Promise<void> {
  const database = POSTGRES_OF_DIR.get(dir);
  POSTGRES_OF_DIR.delete(dir);
  await database?.drop();
}

/** Builds the app over a fresh data dir (or `options.dir`); nothing listens. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "switchboard-app-"));
  const config = testConfig(dir, await withTestDatabase(dir, options.overrides));
  const { deps, handle } = await compose(config, options.logger ?? silentLogger, {
    gateway: options.gateway,
    usage: options.usage,
    passwordCost: TEST_PASSWORD_COST,
    allowLoopbackClientMetadataForTests: options.allowLoopbackClientMetadata,
  });
  const app = createApp(deps);
  const request = (path: string, init?: RequestInit) => Promise.resolve(app.request(new URL(path, config.server.public_url).href, init));
  let closed = false;
  let databaseClosed = false;
  return {
    app,
    deps,
    config,
    dir,
    request,
    signIn: (email, password) => signIn(request, email, password),
    cookieFor: (user) => sessionCookieFor(deps, user, config.security.session_ttl),
    createUser: (email, role, password) => createSignInUser(deps, email, role, password),
    async closeDatabase() {
      if (databaseClosed) return;
      databaseClosed = true;
      await handle.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      // The last batches are written before the database closes under them.
      await deps.lastUsed.stop();
      await deps.oauth.grantLastUsed.stop();
      if (!databaseClosed) await handle.close();
      databaseClosed = true;
      if (!options.dir) {
        rmSync(dir, { recursive: true, force: true });
        await dropTestDatabase(dir);
      }
    },
  };
}

/** Registers cleanup in the calling file: what `make` resolves to is closed after the test that made it. */
export function useFresh<A extends unknown[], T extends { close: () => void | Promise<void> }>(make: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const made: Promise<T>[] = [];
  afterEach(async () => {
    // One that failed to build has nothing to close (its test failed already).
    for (const t of made.splice(0)) await (await t.catch(() => null))?.close();
  });
  return (...args) => {
    const t = make(...args);
    made.push(t);
    return t;
  };
}

/** One `make()` shared by the calling file (or describe block), made on first use and closed after all its tests. */
export function useShared<T extends { close: () => void }>(make: () => Promise<T>): () => Promise<T> {
  let shared: Promise<T> | undefined;
  afterAll(async () => (await shared?.catch(() => null))?.close());
  return () => (shared ??= make());
}

/** A fresh TestApp per call, each closed after the test of the calling file that made it. */
export function useTestApp(): (overrides?: ConfigOverrides) => Promise<TestApp> {
  return useFresh((overrides?: ConfigOverrides) => createTestApp({ overrides }));
}

export type TestServer = {
  server: RunningServer;
  url: string;
  config: Config;
  dir: string;
  /** The one-time setup link announced at start (null when users already existed). */
  setupUrl: string | null;
  /** Stops the server (if still running) and removes the data dir. */
  cleanup: () => Promise<void>;
};

/**
 * Starts a real server on 127.0.0.1 and a free port. public_url is left unset unless overridden, so
 * it becomes the listening URL, as for a self-hoster running on the default.
 */
export async function startTestServer(options: { overrides?: ConfigOverrides; logger?: Logger; dir?: string; allowLoopbackClientMetadata?: boolean } = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "switchboard-server-"));
  const config = testConfig(dir, await withTestDatabase(dir, { ...options.overrides, server: { public_url: undefined, ...options.overrides?.server } }));
  let setupUrl: string | null = null;
  let server: RunningServer;
  try {
    server = await startServer(config, options.logger ?? silentLogger, {
      announceSetupUrl: (url) => (setupUrl = url),
      passwordCost: TEST_PASSWORD_COST,
      allowLoopbackClientMetadataForTests: options.allowLoopbackClientMetadata,
    });
  } catch (err) {
    if (!options.dir) {
      rmSync(dir, { recursive: true, force: true });
      await dropTestDatabase(dir);
    }
    throw err;
  }
  return {
    server,
    url: server.url,
    // The config the server runs on: with port 0, a copy naming the port the OS picked.
    config: server.deps.config,
    dir,
    get setupUrl() {
      return setupUrl;
    },
    async cleanup() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      await dropTestDatabase(dir);
    },
  };
}
