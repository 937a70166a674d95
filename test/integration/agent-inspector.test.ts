// A real client against an agent over two kinds of upstream: the MCP Inspector CLI lists and calls
// the tools of an agent that combines a stdio connection and an HTTP connection, through a real
// listening Switchboard, and each call reaches the right upstream under the upstream's own name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { User } from "../../src/domain/access/users.ts";
import type { RunningServer } from "../../src/server.ts";
import { PUBLIC_URL, startTestServer, type TestServer } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { waitForLine } from "../support/streams.ts";
import { insertUser } from "../support/users.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const INSPECTOR_BUILD = join(import.meta.dir, "../../node_modules/@modelcontextprotocol/inspector-cli/build");

let running: TestServer | undefined;
let server: RunningServer;
let admin: User;
let httpFixture: ReturnType<typeof Bun.spawn>;
let agentId: string;
let betaId: string;

async function api(token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  httpFixture = Bun.spawn([process.execPath, FIXTURE, "--http", "--port", "0"], { stdout: "pipe", stderr: "ignore", env: { ...process.env, FIXTURE_NAME: "beta" } });
  const listening = await waitForLine(httpFixture.stdout as ReadableStream<Uint8Array>, (line) => line.startsWith("listening "));
  const fixtureUrl = listening.slice("listening ".length).trim();
  running = await startTestServer({ overrides: { server: { public_url: PUBLIC_URL } } });
  server = running.server;
  admin = await insertUser(server.deps, "admin", "root@example.com");
  const manage = (await mintKey(server.deps, admin, { self: ["*"] })).token;
  await api(manage, "POST", "/connections", { slug: "alpha", transport: "stdio", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "alpha" } });
  betaId = (await api(manage, "POST", "/connections", { slug: "beta", transport: "http", url: fixtureUrl })).id as string;
  // The agent's "all"-free selection needs no discovery, but its page and checks do: wait for both.
  await Promise.all(["alpha", "beta"].map((slug) => api(manage, "POST", `/connections/${slug}/refresh`)));
  agentId = (
    await api(manage, "POST", "/agents", {
      slug: "duo",
      connections: [
        { connection: "alpha", tools: ["echo", { name: "whoami", alias: "who_alpha" }] },
        { connection: "beta", tools: [{ name: "whoami", alias: "who_beta" }, "add"] },
      ],
    })
  ).id as string;
});

afterAll(async () => {
  await running?.cleanup();
  httpFixture?.kill();
  await httpFixture?.exited;
});

/** The inspector's CLI mode, run with Node from its build directory (it finds its package.json from there). */
async function inspector(token: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(
    ["node", join(INSPECTOR_BUILD, "index.js"), `${server.url}/mcp/agent/${agentId}`, "--transport", "http", "--header", `Authorization: Bearer ${token}`, ...args],
    { cwd: INSPECTOR_BUILD, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

function text(run: { stdout: string }): string {
  return (JSON.parse(run.stdout) as { content: { text: string }[] }).content[0]!.text;
}

describe("the MCP Inspector CLI against an agent over a stdio and an HTTP upstream", () => {
  test("lists exactly the agent's exposed tools", async () => {
    const token = (await mintKey(server.deps, admin, { [agentId]: ["*"] })).token;
    const run = await inspector(token, ["--method", "tools/list"]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const names = (JSON.parse(run.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names.sort()).toEqual(["add", "echo", "who_alpha", "who_beta"]);
    expect(names).not.toContain("whoami");
  });

  test("calls reach the right upstream under its own tool name", async () => {
    const token = (await mintKey(server.deps, admin, { [agentId]: ["*"] })).token;
    const beta = await inspector(token, ["--method", "tools/call", "--tool-name", "who_beta"]);
    expect(beta.code).toBe(0);
    expect(JSON.parse(text(beta)).name).toBe("beta");
    const alpha = await inspector(token, ["--method", "tools/call", "--tool-name", "who_alpha"]);
    expect(alpha.code).toBe(0);
    expect(JSON.parse(text(alpha)).name).toBe("alpha");
    const add = await inspector(token, ["--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "--tool-arg", "b=3"]);
    expect(add.code).toBe(0);
    expect(text(add)).toBe("5");
  });

  test("a key with no grant on the agent or its connections is refused", async () => {
    const token = (await mintKey(server.deps, admin, { self: ["WHOAMI"] })).token;
    const run = await inspector(token, ["--method", "tools/list"]);
    expect(run.code).not.toBe(0);
    // The inspector prints the refusal's body, not its status: check both.
    expect(run.stderr).toContain('"code":"FORBIDDEN"');
    const direct = await fetch(`${server.url}/mcp/agent/${agentId}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(direct.status).toBe(403);
    expect(run.stdout).not.toContain("who_beta");
    expect(run.stdout).not.toContain("echo");
  });

  test("a key granting one tool of one connection sees only that tool through the agent", async () => {
    const token = (await mintKey(server.deps, admin, { [betaId]: ["add"] })).token;
    const run = await inspector(token, ["--method", "tools/list"]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(["add"]);
  });
});
