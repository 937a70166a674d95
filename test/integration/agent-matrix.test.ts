// A generated matrix over the agent endpoint: keys × agents (overlapping selections across two
// connections, aliases, prefixing) × tools. For every cell, tools/list shows the tool iff tools/call
// is allowed, the expectation comes from DESIGN.md's rule (written out here, not taken from the
// code), and an allowed call reaches the right upstream under the upstream's own name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import { silentLogger } from "../../src/logger.ts";
import { makeCaller, stdioSpec } from "../support/gateway-harness.ts";

type Perms = Record<string, string[]>;

const alpha: ConnectionSpec = stdioSpec({ slug: "alpha", env: { FIXTURE_NAME: "alpha" } });
const beta: ConnectionSpec = stdioSpec({ slug: "beta", env: { FIXTURE_NAME: "beta" } });

function agent(id: string, slug: string, prefixTools: boolean, connections: AgentSpec["connections"]): AgentSpec {
  return { id, slug, title: slug, description: "", instructions: "", enabled: true, prefixTools, connections, fromConfig: false };
}

// Exposed name → [connection, upstream tool] for each agent: the table the checks rely on.
const AGENTS: { spec: AgentSpec; tools: Record<string, [ConnectionSpec, string]> }[] = [
  {
    spec: agent("agent_00000000-0000-4000-8000-00000000000a", "overlap", false, [
      { connectionId: alpha.id, tools: [{ name: "echo" }, { name: "whoami", alias: "who_alpha" }], resources: "none", prompts: "none" },
      { connectionId: beta.id, tools: [{ name: "whoami", alias: "who_beta" }, { name: "add" }, { name: "echo", alias: "say" }], resources: "none", prompts: "none" },
    ]),
    tools: { echo: [alpha, "echo"], who_alpha: [alpha, "whoami"], who_beta: [beta, "whoami"], add: [beta, "add"], say: [beta, "echo"] },
  },
  {
    spec: agent("agent_00000000-0000-4000-8000-00000000000b", "prefixed", true, [
      { connectionId: alpha.id, tools: [{ name: "echo" }, { name: "whoami" }], resources: "none", prompts: "none" },
      { connectionId: beta.id, tools: [{ name: "echo" }, { name: "whoami" }, { name: "add", alias: "plus" }], resources: "none", prompts: "none" },
    ]),
    tools: { alpha__echo: [alpha, "echo"], alpha__whoami: [alpha, "whoami"], beta__echo: [beta, "echo"], beta__whoami: [beta, "whoami"], plus: [beta, "add"] },
  },
];
const [overlap, prefixed] = AGENTS.map((a) => a.spec) as [AgentSpec, AgentSpec];

const KEYS: { name: string; permissions: Perms }[] = [
  { name: "agent overlap *", permissions: { [overlap.id]: ["*"] } },
  { name: "agent overlap [who_beta, say]", permissions: { [overlap.id]: ["who_beta", "say"] } },
  { name: "agent prefixed [beta__echo]", permissions: { [prefixed.id]: ["beta__echo"] } },
  { name: "both agents *", permissions: { [overlap.id]: ["*"], [prefixed.id]: ["*"] } },
  { name: "conn alpha [echo]", permissions: { [alpha.id]: ["echo"] } },
  { name: "conn beta *", permissions: { [beta.id]: ["*"] } },
  { name: "any connection [whoami]", permissions: { "*": ["whoami"] } },
  { name: "any connection *", permissions: { "*": ["*"] } },
  { name: "other agent only", permissions: { "agent_00000000-0000-4000-8000-0000000000ff": ["*"] } },
];

/** DESIGN.md: allowed when the agent selects it and grants(p, A, T) || grants(p, C, t) || grants(p, "*", t). */
function expectedAllowed(p: Perms, agentId: string, exposed: string, connectionId: string, upstream: string): boolean {
  const grants = (r: string, a: string) => (p[r] ?? []).includes(a) || (p[r] ?? []).includes("*");
  return grants(agentId, exposed) || grants(connectionId, upstream) || grants("*", upstream);
}

/** What an allowed call must return, proving which upstream ran which tool. */
function expectedText(connection: ConnectionSpec, upstream: string): string | RegExp {
  if (upstream === "echo") return "matrix";
  if (upstream === "add") return "5";
  return new RegExp(`"name":"${connection.env.FIXTURE_NAME}"`);
}

/** What the SDK's McpServer answers for a tool it does not have, and so what an agent answers. */
const unknownTool = (name: string) => ({ content: [{ type: "text", text: `MCP error -32602: Tool ${name} not found` }], isError: true });

const argsFor = (upstream: string) => (upstream === "echo" ? { text: "matrix" } : upstream === "add" ? { a: 2, b: 3 } : {});

let gateway: Gateway;

beforeAll(async () => {
  const specs = new Map([alpha, beta].map((s) => [s.id, s]));
  gateway = new Gateway({
    sessionIdleMs: 60_000,
    maxSessions: 1000,
    stderrLines: 50,
    maxBodyBytes: 4 << 20,
    logger: silentLogger,
    lookup: async (id) => specs.get(id) ?? null,
    lookupAgent: async (id) => AGENTS.find((a) => a.spec.id === id)?.spec ?? null,
  });
  await Promise.all([alpha, beta].map((s) => gateway.refresh(s.id)));
});

afterAll(async () => {
  await gateway.close();
});

async function connect(spec: AgentSpec, permissions: Perms): Promise<Client> {
  const caller = makeCaller(permissions);
  const client = new Client({ name: "matrix", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`http://localhost/mcp/agent/${spec.slug}`), {
      fetch: (url, init) => gateway.handleAgent(new Request(url, init), spec, caller),
    }),
  );
  return client;
}

describe("agent tool matrix", () => {
  for (const { spec, tools } of AGENTS) {
    for (const key of KEYS) {
      test(`${spec.slug} × ${key.name}`, async () => {
        const client = await connect(spec, key.permissions);
        try {
          const listed = new Set((await client.listTools()).tools.map((t) => t.name));
          // Nothing but the agent's own exposed names is ever listed.
          for (const name of listed) expect(Object.keys(tools)).toContain(name);
          for (const [exposed, [connection, upstream]] of Object.entries(tools)) {
            const allowed = expectedAllowed(key.permissions, spec.id, exposed, connection.id, upstream);
            expect({ exposed, listed: listed.has(exposed) }).toEqual({ exposed, listed: allowed });
            if (allowed) {
              const result = await client.callTool({ name: exposed, arguments: argsFor(upstream) });
              expect(result.isError ?? false).toBe(false);
              const text = (result.content as { text: string }[])[0]!.text;
              const want = expectedText(connection, upstream);
              if (typeof want === "string") expect(text).toBe(want);
              else expect(text).toMatch(want);
            } else {
              // Refused exactly as a tool the agent does not have (the SDK's answer), and never run.
              expect((await client.callTool({ name: exposed, arguments: argsFor(upstream) })) as unknown).toEqual(unknownTool(exposed));
            }
          }
          // An upstream name that the agent renamed or prefixed is not callable under that name.
          if (!("whoami" in tools)) expect((await client.callTool({ name: "whoami", arguments: {} })) as unknown).toEqual(unknownTool("whoami"));
        } finally {
          await client.close();
        }
      });
    }
  }
});
