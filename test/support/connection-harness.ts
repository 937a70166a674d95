// A test app with a fake gateway (recording what it is told, answering what a test sets, serving no
// /mcp endpoint), for
// connection tests: config overrides ([stdio], [[connections]]), an admin and a member, and a
// stored-connection maker.
import { existsSync, readFileSync } from "node:fs";
import { createConnection, newConnectionFields, type Connection, type ConnectionFields } from "../../src/domain/connections/connections.ts";
import type { User } from "../../src/domain/access/users.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import type { Caller } from "../../src/domain/access/caller.ts";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { ConnectionRuntime } from "../../src/gateway/connection-runtime.ts";
import type { RunningGateway } from "../../src/gateway/serving.ts";
import { NO_DISCOVERY, type AgentControl, type ConnectionStatus, type ConnectionTestResult, type Discovery } from "../../src/gateway/types.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createTestApp, useFresh, type ConfigOverrides, type TestApp } from "./app.ts";
import { insertUser } from "./users.ts";
import { rawRows } from "./raw-sql.ts";

export const EMPTY_DISCOVERY: Discovery = NO_DISCOVERY;

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
  async agentHealth(agentId: string): Promise<{ connectionId: string; error: string | null; at: Date | null }[]> {
    return this.health.get(agentId) ?? [];
  }
  async callAgentTool(agentId: string, caller: Caller, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.calls.push({ agentId, caller, name, args });
    if (this.callError) throw this.callError;
    return this.callResult;
  }
}

/**
 * The gateway's whole contract, faked: the connection control records calls and answers from what the
 * test put in it, the agent control is `agents` (a FakeAgents), and the serving face knows no
 * connection and no agent, so /mcp/<anything> is refused (403, or 404 for a key granted "*").
 */
export class FakeGateway implements RunningGateway {
  readonly agents = new FakeAgents();
  discovering: string[] = [];
  closed = false;
  applied: ConnectionSpec[] = [];
  removed: string[] = [];
  tested: ConnectionSpec[] = [];
  refreshed: string[] = [];
  statuses = new Map<string, ConnectionStatus>();
  discoveries = new Map<string, Discovery>();
  stderrs = new Map<string, string[]>();
  /** The open MCP sessions the dashboard shows (a test sets it). */
  sessionCount = 0;
  stdioProcessCount = 0;
  testResult: ConnectionTestResult = { ok: true, latency_ms: 12, server: { name: "fake-upstream", version: "1.2.3" }, tools: 2, resources: 1, prompts: 0 };

  async test(spec: ConnectionSpec): Promise<ConnectionTestResult> {
    this.tested.push(spec);
    return this.testResult;
  }
  async status(id: string): Promise<ConnectionStatus> {
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
  agentApplied(agentId: string): Promise<void> {
    return this.agents.agentApplied(agentId);
  }
  agentRemoved(agentId: string): Promise<void> {
    return this.agents.agentRemoved(agentId);
  }
  async agentHealth(agentId: string): Promise<{ connectionId: string; error: string | null; at: Date | null }[]> {
    return this.agents.agentHealth(agentId);
  }
  callAgentTool(agentId: string, caller: Caller, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.agents.callAgentTool(agentId, caller, name, args);
  }
  async runtime(): Promise<ConnectionRuntime | null> {
    return null;
  }
  async agent(): Promise<AgentSpec | null> {
    return null;
  }
  handle(): Promise<Response> {
    return Promise.reject(new Error("the fake gateway serves no connection"));
  }
  handleAgent(): Promise<Response> {
    return Promise.reject(new Error("the fake gateway serves no agent"));
  }
  /** Refusals are recorded by the real gateway only. */
  async refused(): Promise<void> {}
  async discoverAll(ids: string[]): Promise<void> {
    this.discovering.push(...ids);
  }
  async close(): Promise<void> {
    this.closed = true;
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

export type ConnectionHarness = TestApp & {
  gateway: FakeGateway;
  admin: User;
  member: User;
  /** Stores a connection directly (no operation, no gateway call). */
  store: (fields: Partial<ConnectionFields> & Pick<ConnectionFields, "slug" | "transport">) => Promise<Connection>;
  /** The raw bytes of the database and its WAL, as one string (to look for secrets in clear). */
  rawDatabase: () => Promise<string>;
};

/** Builds the app over `dir` (a fresh one by default; pass one to restart over the same database). */
export async function createConnectionHarness(overrides: ConfigOverrides = {}, existingDir?: string): Promise<ConnectionHarness> {
  const gateway = new FakeGateway();
  const t = await createTestApp({ overrides, gateway, dir: existingDir });
  const { config, deps } = t;
  return {
    ...t,
    gateway,
    admin: await insertUser(deps, "admin"),
    member: await insertUser(deps, "member"),
    store: (fields) => createConnection(connectionStore(deps), newConnectionFields(fields)),
    async rawDatabase() {
      if (!deps.sqlite) {
        // PostgreSQL's files are the server's: every row of every table, as stored, is what it holds.
        const names = await rawRows<{ table_name: string }>(deps, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()");
        const dumps = await Promise.all(names.map(async ({ table_name }) => JSON.stringify(await rawRows(deps, `SELECT * FROM "${table_name}"`))));
        return dumps.join("\n");
      }
      // Both files, before and after a checkpoint: a secret must be in neither, at any point.
      const read = () => [config.database.path, `${config.database.path}-wal`].map((path) => (existsSync(path) ? readFileSync(path).toString("latin1") : ""));
      const before = read();
      deps.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
      return [...before, ...read()].join("\n");
    },
  };
}

/** A fresh harness per call, closed after each test of the calling file. */
export function useConnectionHarness(): (overrides?: ConfigOverrides) => Promise<ConnectionHarness> {
  return useFresh((overrides?: ConfigOverrides) => createConnectionHarness(overrides));
}
