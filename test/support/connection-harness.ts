// A Switchboard over a fresh database with a fake gateway (recording what it is told, answering what a
// test sets), for connection tests: config overrides ([stdio], [[connections]]), an admin and a
// member, session cookies without a sign-in round trip, and a stored-connection maker.
import { afterEach } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { createConnection, newConnectionFields, type Connection, type ConnectionFields } from "../../src/domain/connections/connections.ts";
import { createSession } from "../../src/domain/access/sessions.ts";
import type { User } from "../../src/domain/access/users.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import type { ConnectionSpec, ConnectionStatus, ConnectionTestResult, Discovery, GatewayControl } from "../../src/gateway/types.ts";
import { silentLogger } from "../../src/logger.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { prepare } from "../../src/server.ts";
import { signedSessionCookie } from "../helpers/app.ts";
import { insertUser } from "./key-harness.ts";

export const SECRET = "connection-harness-secret-0123456789-abcd";
export const PUBLIC_URL = "http://switchboard.test";

export const EMPTY_DISCOVERY: Discovery = { tools: [], resources: [], resourceTemplates: [], prompts: [], refreshedAt: null, error: null };

/** A GatewayControl that records calls and answers from what the test put in it. */
export class FakeGateway implements GatewayControl {
  applied: ConnectionSpec[] = [];
  removed: string[] = [];
  tested: ConnectionSpec[] = [];
  refreshed: string[] = [];
  statuses = new Map<string, ConnectionStatus>();
  discoveries = new Map<string, Discovery>();
  stderrs = new Map<string, string[]>();
  testResult: ConnectionTestResult = { ok: true, latency_ms: 12, server: { name: "fake-upstream", version: "1.2.3" }, tools: 2, resources: 1, prompts: 0 };

  async test(spec: ConnectionSpec): Promise<ConnectionTestResult> {
    this.tested.push(spec);
    return this.testResult;
  }
  status(id: string): ConnectionStatus {
    return this.statuses.get(id) ?? { state: "idle", lastError: null, since: null };
  }
  discovery(id: string): Discovery {
    return this.discoveries.get(id) ?? EMPTY_DISCOVERY;
  }
  async refresh(id: string): Promise<Discovery> {
    this.refreshed.push(id);
    return this.discovery(id);
  }
  stderr(id: string): string[] {
    return this.stderrs.get(id) ?? [];
  }
  async apply(spec: ConnectionSpec): Promise<void> {
    this.applied.push(spec);
  }
  async remove(id: string): Promise<void> {
    this.removed.push(id);
  }
}

/** A discovery with these tools (name → description). */
export function discoveryOf(tools: Record<string, string>, extra: Partial<Discovery> = {}): Discovery {
  return {
    ...EMPTY_DISCOVERY,
    tools: Object.entries(tools).map(([name, description]) => ({ name, description, inputSchema: { type: "object" as const } })),
    refreshedAt: new Date("2026-01-02T03:04:05Z"),
    ...extra,
  };
}

export type ConfigOverrides = {
  stdio?: Record<string, unknown>;
  connections?: Record<string, unknown>[];
  agents?: Record<string, unknown>[];
  gateway?: Record<string, unknown>;
};

export type ConnectionHarness = {
  dir: string;
  config: Config;
  deps: AppDeps;
  app: Hono<AppEnv>;
  gateway: FakeGateway;
  admin: User;
  member: User;
  /** A session cookie ("sb_session=…") for the user. */
  cookieFor: (user: User) => Promise<string>;
  /** Stores a connection directly (no operation, no gateway call). */
  store: (fields: Partial<ConnectionFields> & Pick<ConnectionFields, "slug" | "transport">) => Connection;
  /** The raw bytes of the database and its WAL, as one string (to look for secrets in clear). */
  rawDatabase: () => string;
  close: () => void;
};

export function testConfig(dir: string, overrides: ConfigOverrides = {}): Config {
  return parseConfig(
    {
      server: { listen: "127.0.0.1:0", public_url: PUBLIC_URL, log_level: "error" },
      database: { path: join(dir, "sb.db") },
      security: { secret: SECRET },
      ...(overrides.stdio ? { stdio: overrides.stdio } : {}),
      ...(overrides.gateway ? { gateway: overrides.gateway } : {}),
      ...(overrides.connections ? { connections: overrides.connections } : {}),
      ...(overrides.agents ? { agents: overrides.agents } : {}),
    },
    { source: null, env: {}, baseDir: dir },
  );
}

/** Builds the app over `dir` (a fresh one by default; pass one to restart over the same database). */
export function createConnectionHarness(overrides: ConfigOverrides = {}, existingDir?: string): ConnectionHarness {
  const dir = existingDir ?? mkdtempSync(join(tmpdir(), "switchboard-conn-"));
  const config = testConfig(dir, overrides);
  const gateway = new FakeGateway();
  const { deps, handle } = prepare(config, silentLogger, { gateway });
  const app = createApp(deps);
  const admin = insertUser(deps, "admin");
  const member = insertUser(deps, "member");
  let closed = false;
  return {
    dir,
    config,
    deps,
    app,
    gateway,
    admin,
    member,
    async cookieFor(user) {
      const { token } = createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: config.security.session_ttl });
      return signedSessionCookie(token, deps.keys.cookie);
    },
    store: (fields) => createConnection(connectionStore(deps), newConnectionFields(fields)),
    rawDatabase() {
      // Both files, before and after a checkpoint: a secret must be in neither, at any point.
      const read = () => [config.database.path, `${config.database.path}-wal`].map((path) => (existsSync(path) ? readFileSync(path).toString("latin1") : ""));
      const before = read();
      deps.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
      return [...before, ...read()].join("\n");
    },
    close() {
      if (closed) return;
      closed = true;
      deps.lastUsed.stop();
      handle.close();
      if (!existingDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh harness per call, closed after each test of the calling file. */
export function useConnectionHarness(): (overrides?: ConfigOverrides) => ConnectionHarness {
  const made: ConnectionHarness[] = [];
  afterEach(() => {
    for (const h of made.splice(0)) h.close();
  });
  return (overrides) => {
    const h = createConnectionHarness(overrides);
    made.push(h);
    return h;
  };
}
