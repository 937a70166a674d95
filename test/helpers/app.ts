// A Switchboard for HTTP tests: a temp data dir, a Config, the real deps from prepare() and the Hono
// app (driven with app.request()), or a real server listening on a free port; plus sign-in helpers.
import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { serializeSigned } from "hono/utils/cookie";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { createSession } from "../../src/domain/access/sessions.ts";
import { createUser, type User } from "../../src/domain/access/users.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import { SESSION_COOKIE } from "../../src/http/middleware/session.ts";
import { silentLogger, type Logger } from "../../src/logger.ts";
import { prepare, startServer, type RunningServer } from "../../src/server.ts";

export const TEST_SECRET = "http-test-secret-0123456789-abcdefghijkl";
export const PUBLIC_URL = "http://switchboard.test";
export const PASSWORD = "correct horse battery";

/** Overrides for the [server] and [security] sections of the test config. */
export type ConfigOverrides = { server?: Record<string, unknown>; security?: Record<string, unknown> };

/** A config whose database lives in `dir`, with a fixed secret and (unless overridden) PUBLIC_URL. */
export function testConfig(dir: string, overrides: ConfigOverrides = {}): Config {
  return parseConfig(
    {
      server: { listen: "127.0.0.1:0", public_url: PUBLIC_URL, log_level: "error", ...overrides.server },
      database: { path: join(dir, "data", "switchboard.db") },
      security: { secret: TEST_SECRET, ...overrides.security },
    },
    { source: null, env: {}, baseDir: dir },
  );
}

export type TestApp = {
  app: Hono<AppEnv>;
  deps: AppDeps;
  config: Config;
  dir: string;
  /** A request to the app; `path` is joined to PUBLIC_URL so Host matches public_url. */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** Signs in through POST /admin/login and returns the `sb_session=…` cookie pair. */
  signIn: (email: string, password?: string) => Promise<string>;
  /** A session cookie for `user` made directly (no sign-in round trip, no password check). */
  cookieFor: (user: User) => Promise<string>;
  /** Creates a user who signs in with `password` (PASSWORD by default). */
  createUser: (email: string, role: "admin" | "member", password?: string) => Promise<User>;
  /** Closes the database and removes the data dir. */
  cleanup: () => void;
};

/** The `name=value` pair of the session cookie a response sets, or null. */
export function sessionCookieFrom(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(";", 1)[0]!;
    if (pair.startsWith(`${SESSION_COOKIE}=`) && pair.length > SESSION_COOKIE.length + 1) return pair;
  }
  return null;
}

/** The `sb_session=…` pair for a cookie value signed with `key`, exactly as the server would set it. */
export async function signedSessionCookie(value: string, key: Uint8Array<ArrayBuffer>): Promise<string> {
  return (await serializeSigned(SESSION_COOKIE, value, key)).split(";", 1)[0]!;
}

/** A form-encoded POST body. */
export function form(fields: Record<string, string>): { method: "POST"; body: URLSearchParams } {
  return { method: "POST", body: new URLSearchParams(fields) };
}

/** Builds the app over a fresh data dir; nothing listens. */
export function buildTestApp(overrides: ConfigOverrides = {}, logger: Logger = silentLogger): TestApp {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-http-"));
  const config = testConfig(dir, overrides);
  const { deps, handle } = prepare(config, logger);
  const app = createApp(deps);
  const base = config.server.public_url;
  const request = (path: string, init?: RequestInit) => Promise.resolve(app.request(new URL(path, base).href, init));
  let closed = false;
  return {
    app,
    deps,
    config,
    dir,
    request,
    async signIn(email, password = PASSWORD) {
      const res = await request("/admin/login", form({ email, password, next: "/admin" }));
      const cookie = sessionCookieFrom(res);
      if (res.status !== 303 || cookie === null) throw new Error(`sign-in as ${email} failed with ${res.status}: ${await res.text()}`);
      return cookie;
    },
    async cookieFor(user) {
      const { token } = createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: config.security.session_ttl });
      return signedSessionCookie(token, deps.keys.cookie);
    },
    createUser: (email, role, password = PASSWORD) => createUser(deps.db, { email, role, password }),
    cleanup() {
      if (closed) return;
      closed = true;
      deps.lastUsed.stop();
      handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh TestApp per call, each cleaned up after the test of the calling file that made it. */
export function useTestApp(): (overrides?: ConfigOverrides) => TestApp {
  const made: TestApp[] = [];
  afterEach(() => {
    for (const t of made.splice(0)) t.cleanup();
  });
  return (overrides) => {
    const t = buildTestApp(overrides);
    made.push(t);
    return t;
  };
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
export function startTestServer(options: { overrides?: ConfigOverrides; logger?: Logger; dir?: string } = {}): TestServer {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "switchboard-server-"));
  const config = testConfig(dir, { ...options.overrides, server: { public_url: undefined, ...options.overrides?.server } });
  let setupUrl: string | null = null;
  let server: RunningServer;
  try {
    server = startServer(config, options.logger ?? silentLogger, { announceSetupUrl: (url) => (setupUrl = url) });
  } catch (err) {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    server,
    url: server.url,
    config,
    dir,
    get setupUrl() {
      return setupUrl;
    },
    async cleanup() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
