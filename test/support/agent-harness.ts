// A Switchboard over a fresh database with a fake gateway and a fake AgentControl (recording what they
// are told, answering what a test sets), for agent tests: config overrides ([[connections]],
// [[agents]]), an admin and a member, session cookies, and makers of connections (with discovered
// tools) and agents that skip the operations.
import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import type { Config } from "../../src/config/load.ts";
import { createAgent, newAgentFields, type Agent, type AgentFields } from "../../src/domain/agents/agents.ts";
import type { AgentConnectionSelection } from "../../src/domain/agents/tools.ts";
import { createConnection, newConnectionFields, type Connection } from "../../src/domain/connections/connections.ts";
import { createSession } from "../../src/domain/access/sessions.ts";
import type { User } from "../../src/domain/access/users.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppDeps, AppEnv } from "../../src/http/context.ts";
import type { AgentControl } from "../../src/gateway/types.ts";
import { silentLogger } from "../../src/logger.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import type { Caller } from "../../src/operations/registry.ts";
import { prepare } from "../../src/server.ts";
import { signedSessionCookie } from "../helpers/app.ts";
import { discoveryOf, FakeGateway, testConfig, type ConfigOverrides } from "./connection-harness.ts";
import { insertUser } from "./key-harness.ts";

export const PUBLIC_URL = "http://switchboard.test";

/** An AgentControl that records what it is told and answers calls from what the test set. */
export class FakeAgents implements AgentControl {
  applied: string[] = [];
  removed: string[] = [];
  calls: { agentId: string; caller: Caller; name: string; args: Record<string, unknown> }[] = [];
  health = new Map<string, { connectionId: string; error: string | null; at: Date | null }[]>();
  callResult: Record<string, unknown> = { content: [{ type: "text", text: "fake result" }] };
  callError: Error | null = null;

  async agentApplied(agentId: string): Promise<void> {
    this.applied.push(agentId);
  }
  async agentRemoved(agentId: string): Promise<void> {
    this.removed.push(agentId);
  }
  agentHealth(agentId: string): { connectionId: string; error: string | null; at: Date | null }[] {
    return this.health.get(agentId) ?? [];
  }
  async callAgentTool(agentId: string, caller: Caller, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.calls.push({ agentId, caller, name, args });
    if (this.callError) throw this.callError;
    return this.callResult;
  }
}

export type AgentOverrides = Pick<ConfigOverrides, "connections" | "agents">;

export type AgentHarness = {
  dir: string;
  config: Config;
  deps: AppDeps;
  app: Hono<AppEnv>;
  gateway: FakeGateway;
  agents: FakeAgents;
  admin: User;
  member: User;
  cookieFor: (user: User) => Promise<string>;
  /** Stores an http connection offering these tools (name → description), as if discovered. */
  connection: (slug: string, tools?: Record<string, string>) => Connection;
  /** Stores an agent directly (checked by the domain, no operation, no gateway call). */
  agent: (slug: string, connections: AgentConnectionSelection[], fields?: Partial<AgentFields>) => Agent;
  close: () => void;
};

/** Builds the app over `dir` (a fresh one by default; pass one to restart over the same database). */
export function createAgentHarness(overrides: AgentOverrides = {}, existingDir?: string): AgentHarness {
  const dir = existingDir ?? mkdtempSync(join(tmpdir(), "switchboard-agent-"));
  const config = testConfig(dir, overrides);
  const gateway = new FakeGateway();
  const agents = new FakeAgents();
  const { deps, handle } = prepare(config, silentLogger, { gateway, agents });
  const app = createApp(deps);
  let closed = false;
  return {
    dir,
    config,
    deps,
    app,
    gateway,
    agents,
    admin: insertUser(deps, "admin"),
    member: insertUser(deps, "member"),
    async cookieFor(user) {
      const { token } = createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: config.security.session_ttl });
      return signedSessionCookie(token, deps.keys.cookie);
    },
    connection(slug, tools = {}) {
      const c = createConnection(connectionStore(deps), newConnectionFields({ slug, transport: "http", url: `https://${slug}.example/mcp` }));
      gateway.discoveries.set(c.id, discoveryOf(tools));
      return c;
    },
    agent: (slug, connections, fields = {}) => createAgent(agentStore(deps), newAgentFields({ ...fields, slug, connections })),
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
export function useAgentHarness(): (overrides?: AgentOverrides) => AgentHarness {
  const made: AgentHarness[] = [];
  afterEach(() => {
    for (const h of made.splice(0)) h.close();
  });
  return (overrides) => {
    const h = createAgentHarness(overrides);
    made.push(h);
    return h;
  };
}

/** A selection of these tools (names, or [name, alias]) of a connection, with no resources or prompts. */
export function pick(connection: { id: string }, tools: "all" | (string | [string, string])[], extra: Partial<AgentConnectionSelection> = {}): AgentConnectionSelection {
  return {
    connectionId: connection.id,
    tools: tools === "all" ? "all" : tools.map((t) => (typeof t === "string" ? { name: t } : { name: t[0], alias: t[1] })),
    resources: "none",
    prompts: "none",
    ...extra,
  };
}
