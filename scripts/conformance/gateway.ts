// A throwaway Switchboard for the conformance run, in this process: temp database, 127.0.0.1 on a
// port the OS picks, an admin, a management key to register connections over the REST API, and a
// key granting every connection ({"*": ["*"]}) for the suite itself.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { createApiKey } from "../../src/domain/access/api-keys.ts";
import { createUser } from "../../src/domain/access/users.ts";
import { createLogger } from "../../src/logger.ts";
import { startServer } from "../../src/server.ts";

export type ConnectionBody = { slug: string; transport: "stdio"; command: string; args: string[]; cwd?: string } | { slug: string; transport: "http"; url: string };

export type TestGateway = {
  url: string;
  /** Bearer token for /mcp/:connectionId: {"*": ["*"]}, nothing on "self". */
  mcpToken: string;
  /** Registers a connection through POST /api/v1/connections and returns its id (conn_…). */
  register: (body: ConnectionBody) => Promise<string>;
  /** Creates an agent through POST /api/v1/agents and returns its id (agent_…). */
  registerAgent: (body: Record<string, unknown>) => Promise<string>;
  /** The gateway's own log lines (warn and above), for explaining a failure. */
  log: () => string[];
  stop: () => Promise<void>;
};

/** Thrown when the gateway lacks something the run needs; the message says exactly what. */
export class BlockedError extends Error {
  override name = "BlockedError";
}

export async function startGateway(): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-conformance-gw-"));
  const config = parseConfig(
    {
      server: { listen: "127.0.0.1:0", log_level: "warn" },
      database: { path: join(dir, "switchboard.db") },
      security: { secret: crypto.randomUUID() + crypto.randomUUID() },
    },
    { source: null, env: {}, baseDir: dir },
  );
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", write: (line) => void lines.push(line) });
  const running = await startServer(config, logger, { announceSetupUrl: () => {} });
  const { db, keys } = running.deps;
  const admin = await createUser(db, { email: "conformance@switchboard.test", role: "admin", password: crypto.randomUUID() });
  // Two keys, so the suite runs with exactly the grant the brief names and no management rights.
  const manage = await createApiKey(db, { hmacKey: keys.tokenHmac, name: "conformance-admin", ownerId: admin.id, permissions: { self: ["*"] }, expiresAt: null });
  const mcp = await createApiKey(db, { hmacKey: keys.tokenHmac, name: "conformance-suite", ownerId: admin.id, permissions: { "*": ["*"] }, expiresAt: null });

  async function register(body: ConnectionBody): Promise<string> {
    const response = await fetch(`${running.url}/api/v1/connections`, {
      method: "POST",
      headers: { authorization: `Bearer ${manage.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status === 404 || response.status === 405) {
      throw new BlockedError(`POST /api/v1/connections answered ${response.status}: the connections REST route is not served yet (${text.slice(0, 200)})`);
    }
    if (!response.ok) throw new Error(`registering ${body.slug} failed: ${response.status} ${text.slice(0, 500)}`);
    const id = (JSON.parse(text) as { id?: unknown }).id;
    if (typeof id !== "string") throw new Error(`registering ${body.slug}: no id in ${text.slice(0, 500)}`);
    return id;
  }

  /** Creates an agent through POST /api/v1/agents and returns its id (agent_…). */
  async function registerAgent(body: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${running.url}/api/v1/agents`, {
      method: "POST",
      headers: { authorization: `Bearer ${manage.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`creating agent ${String(body.slug)} failed: ${response.status} ${text.slice(0, 500)}`);
    const id = (JSON.parse(text) as { id?: unknown }).id;
    if (typeof id !== "string") throw new Error(`creating agent ${String(body.slug)}: no id in ${text.slice(0, 500)}`);
    return id;
  }

  return {
    url: running.url,
    mcpToken: mcp.token,
    register,
    registerAgent,
    log: () => lines,
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
