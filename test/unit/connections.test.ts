// Connections in the domain: secrets encrypted at rest and masked on the way out, validation naming
// each field, slug uniqueness, the [stdio] policy, specs for the gateway, and connections declared
// in the config (stable ids across restarts, read-only, removal, takeover), plus their config schema.
import { describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { renderEffectiveConfig } from "../../src/config/describe.ts";
import { renderInitialConfig } from "../../src/cli/commands/init.ts";
import { configConnectionId, syncConfigConnections } from "../../src/domain/connections/config.ts";
import {
  createConnection,
  deleteConnection,
  findConnection,
  getConnection,
  listConnections,
  listConnectionSummaries,
  newConnectionFields,
  SECRET_MASK,
  toSpec,
  updateConnection,
} from "../../src/domain/connections/connections.ts";
import { CONNECTION_ID } from "../../src/domain/access/permissions.ts";
import { AppError } from "../../src/errors.ts";
import { connectionOut } from "../../src/operations/connection-shapes.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { toolList } from "../../src/operations/tools.ts";
import { runOperation, sessionCaller } from "../../src/operations/registry.ts";
import * as cipher from "../../src/security/cipher.ts";
import { createConnectionHarness, useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { problemsOf, rejectionOf } from "../support/errors.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useConnectionHarness();

const TOKEN = "tok-Sup3rSecret-abcdef";
const HEADER_VALUE = "hdr-Sup3rSecret-123456";
const ENV_VALUE = "env-Sup3rSecret-987654";

async function appError(fn: () => Promise<unknown>): Promise<AppError> {
  const err = await rejectionOf(fn());
  if (!(err instanceof AppError)) throw err;
  return err;
}

function storeOf(h: ConnectionHarness) {
  return connectionStore(h.deps);
}

describe("secrets at rest", () => {
  test("listing connections (the summaries, TOOL_LIST) decrypts no secret, and lists what the full read does", async () => {
    const h = await harness();
    await h.store({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Api-Key": HEADER_VALUE } });
    await h.store({ slug: "local", transport: "stdio", command: "node", args: ["server.js"], env: { API_KEY: ENV_VALUE } });
    const full = await listConnections(storeOf(h));
    const decrypt = spyOn(cipher, "decryptSecret");
    try {
      // The spy sees the full read: the test would notice a summary that decrypted.
      await listConnections(storeOf(h));
      expect(decrypt).toHaveBeenCalled();
      decrypt.mockClear();
      const summaries = await listConnectionSummaries(h.deps.db);
      const tools = await runOperation(toolList, { deps: h.deps, caller: sessionCaller(h.admin, h.deps.catalog), now: new Date(), origin: { face: "admin", address: null } }, {});
      expect(decrypt).not.toHaveBeenCalled();
      // Everything public the full read has, and whether each secret is stored in place of the secrets.
      expect(summaries).toEqual(
        full.map(({ token, headers, env, oauthClientSecret, secretsUnreadable: _unreadable, ...rest }) => ({
          ...rest,
          tokenSet: token !== null,
          headersSet: Object.keys(headers).length > 0,
          envSet: Object.keys(env).length > 0,
          oauthClientSecretSet: oauthClientSecret !== null,
        })),
      );
      expect(summaries.map((c) => [c.slug, c.tokenSet, c.headersSet, c.envSet])).toEqual([["local", false, false, true], ["remote", true, true, false]]);
      expect(tools.connections.map((c) => [c.id, c.slug, c.title])).toEqual(full.map((c) => [c.id, c.slug, c.title]));
      for (const secret of [TOKEN, HEADER_VALUE, ENV_VALUE]) expect(JSON.stringify([summaries, tools])).not.toContain(secret);
    } finally {
      decrypt.mockRestore();
    }
  });

  test("token, header values and env values never reach the database files in clear", async () => {
    const h = await harness();
    await h.store({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Api-Key": HEADER_VALUE } });
    await h.store({ slug: "local", transport: "stdio", command: "node", args: ["server.js"], env: { API_KEY: ENV_VALUE } });
    await updateConnection(storeOf(h), "remote", { token: `${TOKEN}-rotated` });
    const raw = await h.rawDatabase();
    for (const secret of [TOKEN, HEADER_VALUE, ENV_VALUE]) expect(raw).not.toContain(secret);
    // The non-secret fields are stored plainly, and ciphertexts are there: the test looks at the right bytes.
    expect(raw).toContain("https://mcp.example.com/mcp");
    expect(raw).toContain("server.js");
    expect(raw).toMatch(/v1\.[A-Za-z0-9_-]{16}\./);
    // ... and they decrypt to what was stored.
    expect(await findConnection(storeOf(h), "remote")).toMatchObject({ token: `${TOKEN}-rotated`, headers: { "X-Api-Key": HEADER_VALUE } });
    expect((await findConnection(storeOf(h), "local")).env).toEqual({ API_KEY: ENV_VALUE });
  });

  test("a ciphertext copied onto another connection, or into another column, does not decrypt", async () => {
    const h = await harness();
    const a = await h.store({ slug: "a", transport: "http", url: "https://a.example/mcp", token: TOKEN, headers: { X: "1" } });
    const b = await h.store({ slug: "b", transport: "http", url: "https://b.example/mcp" });
    await rawRun(h.deps, "UPDATE connections SET token_sealed = (SELECT token_sealed FROM connections WHERE id = ?) WHERE id = ?", a.id, b.id);
    await rawRun(h.deps, "UPDATE connections SET headers_sealed = token_sealed WHERE id = ?", a.id);
    const copied = await findConnection(storeOf(h), "b");
    expect(copied.token).toBeNull();
    expect(copied.secretsUnreadable).toBe(true);
    expect(await findConnection(storeOf(h), "a")).toMatchObject({ token: TOKEN, headers: {}, secretsUnreadable: true });
  });

  test("the public shape masks every secret and keeps the names", async () => {
    const h = await harness();
    const c = await h.store({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Api-Key": HEADER_VALUE } });
    const out = await connectionOut(h.deps, c, { role: "member" });
    expect(out).toMatchObject({ token_set: true, headers: { "X-Api-Key": SECRET_MASK }, env: {}, mcp_url: `${h.config.server.public_url}/mcp/${c.id}` });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(JSON.stringify(out)).not.toContain(HEADER_VALUE);
    const local = await connectionOut(h.deps, await h.store({ slug: "local", transport: "stdio", command: "node", env: { API_KEY: ENV_VALUE } }), { role: "member" });
    expect(local).toMatchObject({ token_set: false, env: { API_KEY: SECRET_MASK } });
    expect(JSON.stringify(local)).not.toContain(ENV_VALUE);
  });
});

describe("validation", () => {
  test.each([
    ["http without url", { slug: "x", transport: "http" as const }, { url: "expected a URL for an http connection" }],
    ["sse with a command", { slug: "x", transport: "sse" as const, url: "https://a/mcp", command: "node" }, { command: "only stdio connections run a command" }],
    ["stdio without command", { slug: "x", transport: "stdio" as const }, { command: "expected a command for a stdio connection" }],
    ["stdio with http fields", { slug: "x", transport: "stdio" as const, command: "node", url: "https://a/mcp", token: "t", headers: { A: "b" } }, {
      url: "only http and sse connections have a URL",
      token: "only http and sse connections send a token",
      headers: "only http and sse connections send headers",
    }],
    ["http with stdio fields", { slug: "x", transport: "http" as const, url: "https://a/mcp", env: { A: "b" }, args: ["x"] }, {
      env: "only stdio connections have environment variables",
      args: "only stdio connections take arguments",
    }],
    ["a reserved header", { slug: "x", transport: "http" as const, url: "https://a/mcp", headers: { Host: "evil" } }, { "headers.Host": "the gateway sets this header itself" }],
    ["a token and an Authorization header", { slug: "x", transport: "http" as const, url: "https://a/mcp", token: "t", headers: { authorization: "Basic x" } }, {
      "headers.authorization": "give either a token or an Authorization header, not both",
    }],
  ])("%s is refused naming each field", async (_label, fields, problems) => {
    const h = await harness();
    const err = await appError(() => createConnection(storeOf(h), newConnectionFields(fields)));
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.fields).toEqual(problems);
    for (const field of Object.keys(problems)) expect(err.message).toContain(`${field}: `);
    expect(await listConnections(storeOf(h))).toEqual([]);
  });

  test("a slug is unique: CONNECTION_SLUG_TAKEN (409) on create and on rename", async () => {
    const h = await harness();
    await h.store({ slug: "one", transport: "http", url: "https://a/mcp" });
    await h.store({ slug: "two", transport: "http", url: "https://b/mcp" });
    const taken = await appError(() => h.store({ slug: "one", transport: "http", url: "https://c/mcp" }));
    expect([taken.code, taken.status, taken.fields]).toEqual(["CONNECTION_SLUG_TAKEN", 409, { slug: "another connection has this slug" }]);
    expect((await appError(() => updateConnection(storeOf(h), "two", { slug: "one" }))).code).toBe("CONNECTION_SLUG_TAKEN");
    expect((await listConnections(storeOf(h))).map((c) => c.url)).toEqual(["https://a/mcp", "https://b/mcp"]);
  });

  test("connections are found by id or slug; a missing one is CONNECTION_NOT_FOUND", async () => {
    const h = await harness();
    const c = await h.store({ slug: "gh", transport: "http", url: "https://a/mcp" });
    expect(c.id).toMatch(CONNECTION_ID);
    expect((await getConnection(storeOf(h), c.id))?.slug).toBe("gh");
    expect((await getConnection(storeOf(h), "gh"))?.id).toBe(c.id);
    expect(await getConnection(storeOf(h), "nope")).toBeNull();
    expect((await appError(() => deleteConnection(storeOf(h), "nope"))).code).toBe("CONNECTION_NOT_FOUND");
  });
});

describe("updates keep masked secrets", () => {
  test("a masked value keeps the stored one, a new value replaces it, a missing name is removed", async () => {
    const h = await harness();
    await h.store({ slug: "gh", transport: "http", url: "https://a/mcp", token: TOKEN, headers: { Keep: HEADER_VALUE, Drop: "x" } });
    const updated = await updateConnection(storeOf(h), "gh", { token: SECRET_MASK, headers: { Keep: SECRET_MASK, New: "fresh" } });
    expect(updated).toMatchObject({ token: TOKEN, headers: { Keep: HEADER_VALUE, New: "fresh" } });
    expect((await updateConnection(storeOf(h), "gh", { token: null })).token).toBeNull();
    expect((await updateConnection(storeOf(h), "gh", { title: "" })).title).toBe("gh");
  });

  test("a mask for a name that has no stored value is refused on that header", async () => {
    const h = await harness();
    await h.store({ slug: "gh", transport: "http", url: "https://a/mcp" });
    expect((await appError(() => updateConnection(storeOf(h), "gh", { headers: { Ghost: SECRET_MASK } }))).fields).toEqual({ "headers.Ghost": "expected a value" });
  });
});

describe("the [stdio] policy", () => {
  test("disabled: STDIO_DISABLED (403), and http connections are unaffected", async () => {
    const h = await harness({ stdio: { enabled: false } });
    const err = await appError(() => h.store({ slug: "local", transport: "stdio", command: "node" }));
    expect([err.code, err.status]).toEqual(["STDIO_DISABLED", 403]);
    expect(err.message).toContain("transport: ");
    expect((await h.store({ slug: "remote", transport: "http", url: "https://a/mcp" })).slug).toBe("remote");
  });

  test("allowed_commands: exact names only, so a path does not pass for a name", async () => {
    const h = await harness({ stdio: { allowed_commands: ["npx", "/usr/bin/node"] } });
    expect((await h.store({ slug: "a", transport: "stdio", command: "npx" })).command).toBe("npx");
    expect((await h.store({ slug: "b", transport: "stdio", command: "/usr/bin/node" })).command).toBe("/usr/bin/node");
    for (const command of ["node", "/tmp/evil/npx", "bash", "npx2", "/usr/bin/../bin/node"]) {
      const err = await appError(() => h.store({ slug: "c", transport: "stdio", command }));
      expect([err.code, err.status]).toEqual(["STDIO_COMMAND_NOT_ALLOWED", 403]);
      expect(err.message).toStartWith("command: ");
    }
    expect((await appError(() => updateConnection(storeOf(h), "a", { command: "bash" }))).code).toBe("STDIO_COMMAND_NOT_ALLOWED");
    expect((await listConnections(storeOf(h))).map((c) => c.command)).toEqual(["npx", "/usr/bin/node"]);
  });

  test("a stored stdio connection the policy no longer allows can be renamed, and is handed to the gateway disabled", async () => {
    const open = await harness();
    const c = await open.store({ slug: "local", transport: "stdio", command: "bash", args: ["-c", "server"] });
    const narrowed = { ...open.deps.config, stdio: { enabled: true, allowed_commands: ["npx"] } };
    const store = { ...storeOf(open), stdio: narrowed.stdio };
    expect((await updateConnection(store, c.id, { title: "Renamed" })).title).toBe("Renamed");
    expect(toSpec(await findConnection(store, c.id), { gateway: narrowed.gateway, stdio: narrowed.stdio }).enabled).toBe(false);
    expect(toSpec(await findConnection(store, c.id), { gateway: narrowed.gateway, stdio: open.config.stdio }).enabled).toBe(true);
  });
});

describe("toSpec", () => {
  test("decrypts the secrets and fills in the [gateway] defaults where the connection has none", async () => {
    const h = await harness({ gateway: { connect_timeout: "3s", call_timeout: "90s", stdio_max_processes: 4, max_response_size: "5MiB" } });
    const c = await h.store({ slug: "gh", transport: "http", url: "https://a/mcp", token: TOKEN, headers: { A: "b" }, callTimeoutMs: 5_000 });
    expect(toSpec(c, h.config)).toEqual({
      id: c.id, slug: "gh", title: "gh", description: "", transport: "http", enabled: true, url: "https://a/mcp",
      headers: { A: "b" }, token: TOKEN, oauth: null, command: null, args: [], cwd: null, env: {}, isolation: "shared",
      maxProcesses: 4, connectTimeoutMs: 3_000, callTimeoutMs: 5_000, maxResponseBytes: 5 * 1024 * 1024, fromConfig: false, recordPayloads: false,
    });
  });
});

describe("connections declared in the config", () => {
  const DECLARED = [
    { slug: "everything", command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"], env: { API_KEY: ENV_VALUE } },
    { slug: "github", url: "https://api.example.com/mcp", token: TOKEN, headers: { "X-Team": HEADER_VALUE }, connect_timeout: "5s" },
  ];

  test("are stored at start with ids derived from their slugs, encrypted, read-only", async () => {
    const h = await harness({ connections: DECLARED });
    const all = await listConnections(storeOf(h));
    expect(all.map((c) => [c.slug, c.id, c.transport, c.fromConfig])).toEqual([
      ["everything", configConnectionId("everything"), "stdio", true],
      ["github", configConnectionId("github"), "http", true],
    ]);
    expect(all[1]).toMatchObject({ token: TOKEN, headers: { "X-Team": HEADER_VALUE }, connectTimeoutMs: 5_000 });
    const raw = await h.rawDatabase();
    for (const secret of [TOKEN, HEADER_VALUE, ENV_VALUE]) expect(raw).not.toContain(secret);
    for (const change of [() => updateConnection(storeOf(h), "github", { title: "x" }), () => deleteConnection(storeOf(h), "github")]) {
      const err = await appError(change);
      expect([err.code, err.status]).toEqual(["CONNECTION_READ_ONLY", 409]);
    }
  });

  test("keep their ids across restarts and follow the file: changed, removed, and a new one added", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-restart-"));
    const first = await createConnectionHarness({ connections: DECLARED }, dir);
    try {
      const ids = (await listConnections(storeOf(first))).map((c) => c.id);
      const created = (await listConnections(storeOf(first)))[1]!.updatedAt;
      first.close();
      const same = await createConnectionHarness({ connections: DECLARED }, dir);
      expect((await listConnections(storeOf(same))).map((c) => c.id)).toEqual(ids);
      expect((await listConnections(storeOf(same)))[1]!.updatedAt).toEqual(created); // unchanged: not rewritten
      same.close();
      const changed = await createConnectionHarness({ connections: [{ ...DECLARED[1]!, url: "https://moved.example.com/mcp" }, { slug: "new-one", url: "https://n/mcp" }] }, dir);
      expect((await listConnections(storeOf(changed))).map((c) => [c.slug, c.id, c.url])).toEqual([
        ["github", ids[1]!, "https://moved.example.com/mcp"],
        ["new-one", configConnectionId("new-one"), "https://n/mcp"],
      ]);
      changed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a connection made in the admin keeps its id when the file takes over its slug, and stays when others are removed", async () => {
    const h = await harness();
    const mine = await h.store({ slug: "github", transport: "http", url: "https://old/mcp" });
    const other = await h.store({ slug: "other", transport: "http", url: "https://other/mcp" });
    const result = await syncConfigConnections(storeOf(h), parseConfig({ connections: [DECLARED[1]] }, { source: null, env: {}, baseDir: "/" }).connections);
    expect(result.adopted).toEqual(["github"]);
    expect(await findConnection(storeOf(h), "github")).toMatchObject({ id: mine.id, fromConfig: true, url: "https://api.example.com/mcp", token: TOKEN });
    const emptied = await syncConfigConnections(storeOf(h), []);
    expect(emptied.removed).toEqual([mine.id]);
    expect((await listConnections(storeOf(h))).map((c) => c.id)).toEqual([other.id]);
  });

  test("the derived id is a conn_<uuid> (version 8), the same for the same slug and different for another", () => {
    expect(configConnectionId("github")).toMatch(/^conn_[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(configConnectionId("github")).toMatch(CONNECTION_ID);
    expect(configConnectionId("github")).toBe(configConnectionId("github"));
    expect(configConnectionId("gitlab")).not.toBe(configConnectionId("github"));
  });
});

describe("the config schema of [stdio], [gateway] and [[connections]]", () => {
  const parse = (raw: unknown, env: Record<string, string> = {}) => parseConfig(raw, { source: "t.toml", env, baseDir: "/etc/sb" });
  const problems = (raw: unknown) => problemsOf(() => parse(raw));

  test("defaults: stdio allowed for any command, gateway timeouts, no connections", () => {
    const config = parse({});
    expect(config.stdio).toEqual({ enabled: true, allowed_commands: [] });
    expect(config.gateway).toEqual({ connect_timeout: 10_000, call_timeout: 60_000, session_idle_timeout: 1_800_000, max_sessions: 10_000, stdio_max_processes: 8, stderr_lines: 200, max_concurrent_tests: 4, upstream_deny: [], upstream_allow: [], max_response_size: 32 * 1024 * 1024 });
    expect(config.connections).toEqual([]);
  });

  test("transport is inferred, a relative cwd is read from the config's directory", () => {
    const config = parse({ connections: [{ slug: "a", command: "node", cwd: "servers/a" }, { slug: "b", url: "https://b/mcp" }] });
    expect(config.connections.map((c) => [c.transport, c.cwd])).toEqual([["stdio", "/etc/sb/servers/a"], ["http", undefined]]);
  });

  test("bad connections are refused with their key path, every problem at once", () => {
    expect(problems({ connections: [{ slug: "Bad Slug", url: "https://x/mcp" }, { slug: "s", transport: "sse" }, { slug: "t", transport: "stdio", command: "x", url: "https://x" }, { slug: "u", url: "ftp://x" }] }).sort()).toEqual([
      "connections[0].slug: expected 1-63 lowercase letters, digits and dashes, starting with a letter or digit",
      "connections[1].url: expected a URL for an sse connection",
      "connections[2].url: only http and sse connections have a URL",
      "connections[3].url: expected an http(s) URL such as https://mcp.example.com/mcp",
    ].sort());
    expect(problems({ connections: [{ slug: "a", url: "https://a/mcp" }, { slug: "a", url: "https://b/mcp" }] })).toEqual(['connections[1].slug: slug "a" is declared twice']);
    expect(problems({ connections: [{ slug: "a", url: "https://user:pw@a/mcp" }] })).toEqual(["connections[0].url: put credentials in token or headers (stored encrypted), not in the URL"]);
  });

  test("a declared stdio connection must pass [stdio]: start-up fails otherwise", () => {
    expect(problems({ stdio: { enabled: false }, connections: [{ slug: "a", command: "npx" }] })).toEqual([
      "connections[0].transport: stdio connections are disabled on this server (stdio.enabled = false)",
    ]);
    expect(problems({ stdio: { allowed_commands: ["uvx"] }, connections: [{ slug: "a", command: "npx" }] })).toEqual([
      'connections[0].command: "npx" is not in stdio.allowed_commands ("uvx")',
    ]);
  });

  test("a header or env value of the wrong type is refused without echoing it", () => {
    const refused = problems({ connections: [{ slug: "a", command: "x", env: { KEY: 1234567 } }] });
    expect(refused).toEqual(["connections[0].env.KEY: expected string, got a value (hidden)"]);
    const whole = problems({ connections: [{ slug: "a", url: "https://a/mcp", headers: "Authorization: Bearer hdr-inline-secret" }] });
    expect(whole).toEqual(["connections[0].headers: expected record, got a value (hidden)"]);
  });

  test("the effective config masks the token and every header and env value, and stays valid TOML", () => {
    const config = parse({ connections: [{ slug: "gh", url: "https://a/mcp", token: "${GH}", headers: { "X-Key": HEADER_VALUE } }, { slug: "l", command: "node", env: { K: ENV_VALUE } }] }, { GH: TOKEN });
    const text = renderEffectiveConfig(config, { secretSource: "x" });
    for (const secret of [TOKEN, HEADER_VALUE, ENV_VALUE]) expect(text).not.toContain(secret);
    const parsed = Bun.TOML.parse(text) as { connections: Record<string, unknown>[]; stdio: unknown };
    expect(parsed.connections).toEqual([
      { slug: "gh", url: "https://a/mcp", token: SECRET_MASK, headers: { "X-Key": SECRET_MASK } },
      { slug: "l", command: "node", env: { K: SECRET_MASK } },
    ]);
    expect(parsed.stdio).toEqual({ enabled: true, allowed_commands: [] });
    expect(renderEffectiveConfig(parse({}), { secretSource: "x" })).toContain("# no [[connections]] declared");
  });

  test("init writes [[connections]] commented out, so the new file declares none", () => {
    const text = renderInitialConfig("s".repeat(40));
    expect(text).toContain("\n# [[connections]]\n");
    expect(text).toContain("\n[stdio]\n");
    expect(text).toContain("\n[gateway]\n");
    expect(parse(Bun.TOML.parse(text)).connections).toEqual([]);
  });
});
