// `switchboard key create|list|revoke`, in-process through runCli with a fake io and a temp cwd. A
// verifier held open on the same database file (as a running server would) sees every change.
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { openDatabase, type DbHandle } from "../../src/db/client.ts";
import { createKeyVerifier, getApiKey, hashToken, listApiKeys } from "../../src/domain/access/api-keys.ts";
import type { User } from "../../src/domain/access/users.ts";
import { deriveKeys } from "../../src/security/keys.ts";
import { TEST_SECRET } from "../support/app.ts";
import { mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN } from "../support/key-harness.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { insertUser } from "../support/users.ts";

const tempDir = useTempDirs("switchboard-cli-key-");
const KEYS = deriveKeys(TEST_SECRET);
const handles: DbHandle[] = [];
afterEach(() => {
  for (const handle of handles.splice(0)) handle.close();
});

type Run = { code: number; stdout: string; stderr: string };
type Workspace = {
  cwd: string;
  handle: DbHandle;
  /** What mintKey needs: this database and the keys derived from the configured secret. */
  deps: { db: DbHandle["db"]; keys: typeof KEYS };
  admin: User;
  member: User;
  verify: ReturnType<typeof createKeyVerifier>;
};

/** A cwd with a switchboard.toml, its database open beside the CLI (like a running server), one admin and one member. */
async function workspace(): Promise<Workspace> {
  const cwd = tempDir();
  writeFileSync(join(cwd, "switchboard.toml"), `[database]\npath = "./data/sb.db"\n\n[security]\nsecret = "${TEST_SECRET}"\n`);
  const handle = openDatabase({ path: join(cwd, "data", "sb.db"), busyTimeoutMs: 1_000 });
  handles.push(handle);
  const admin = await insertUser(handle, "admin", "admin@example.com");
  const member = await insertUser(handle, "member", "member@example.com");
  return { cwd, handle, deps: { db: handle.db, keys: KEYS }, admin, member, verify: createKeyVerifier(handle.db, KEYS.tokenHmac) };
}

async function cli(ws: Workspace, args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => {
      throw new Error("the key command must not read stdin");
    },
    env: {},
    cwd: ws.cwd,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe("key create", () => {
  test("prints only the token, on one line; the token works with the given permissions", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "ci", "--owner", "admin@example.com", "--permissions", '{"self":["WHOAMI","API_KEY_LIST"]}']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    const lines = run.stdout.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe("");
    expect(lines[0]).toMatch(TOKEN_PATTERN);
    const verified = await ws.verify(lines[0]!);
    expect(verified).toMatchObject({ permissions: { self: ["WHOAMI", "API_KEY_LIST"] }, owner: { id: ws.admin.id } });
    expect(await getApiKey(ws.handle.db, verified!.keyId)).toMatchObject({ name: "ci", expiresAt: null });
  });

  test("--json prints the key record and the token", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "-n", "deploy", "-o", "MEMBER@example.com", "-p", '{"self":["WHOAMI"]}', "--expires", "30d", "--json"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const out = JSON.parse(run.stdout) as { key: { id: string; name: string; owner: { email: string }; permissions: unknown; expires_at: string | null }; token: string };
    expect(Object.keys(out).sort()).toEqual(["key", "token"]);
    expect(out.token).toMatch(TOKEN_PATTERN);
    expect(out.key).toMatchObject({ name: "deploy", owner: { email: "member@example.com" }, permissions: { self: ["WHOAMI"] } });
    expect(out.key.expires_at).toBeString();
    expect(run.stdout).not.toContain("token_hash");
    expect((await ws.verify(out.token))?.keyId).toBe(out.key.id);
  });

  test("a member owner cannot get admin-only tools: exit 1, the entry named, nothing created", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "sneaky", "--owner", "member@example.com", "--permissions", '{"self":["USER_CREATE"]}']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('self: "USER_CREATE" is more than a member may grant');
    expect(run.stderr).not.toMatch(TOKEN_ANYWHERE);
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });

  test("unknown tools and resources are named: exit 1", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "x", "--owner", "admin@example.com", "--permissions", '{"self":["NOPE"],"bogus":["*"]}']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('self: unknown management tool "NOPE"');
    expect(run.stderr).toContain("bogus: unknown resource");
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });

  test("permissions of the wrong shape: exit 1 naming the field", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "x", "--owner", "admin@example.com", "--permissions", '{"self":"*"}']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("permissions.self: expected a list of actions");
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });

  test("bad JSON is a usage error: exit 2, nothing on stdout", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "x", "--owner", "admin@example.com", "--permissions", "{self: [WHOAMI]}"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("--permissions is not valid JSON");
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });

  const usage: [string, string[], string][] = [
    ["no --name", ["--owner", "admin@example.com", "--permissions", "{}"], "--name is required"],
    ["no --owner", ["--name", "x", "--permissions", "{}"], "--owner is required"],
    ["no --permissions", ["--name", "x", "--owner", "admin@example.com"], "--permissions is required"],
    ["an unknown flag", ["--name", "x", "--owner", "admin@example.com", "--permissions", "{}", "--admin"], "--admin"],
  ];
  for (const [name, args, message] of usage) {
    test(`${name}: exit 2`, async () => {
      const ws = await workspace();
      const run = await cli(ws, ["key", "create", ...args]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain(message);
    });
  }

  test("an unknown owner: exit 1, nothing created", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "x", "--owner", "nobody@example.com", "--permissions", '{"self":["WHOAMI"]}']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("error: no user with email nobody@example.com\n");
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });

  test("a bad --expires names the field: exit 1", async () => {
    const ws = await workspace();
    const run = await cli(ws, ["key", "create", "--name", "x", "--owner", "admin@example.com", "--permissions", "{}", "--expires", "forever"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("expires_in");
    expect(await listApiKeys(ws.handle.db)).toEqual([]);
  });
});

describe("key list", () => {
  test("shows id, prefix, name and owner, and never a token or hash", async () => {
    const ws = await workspace();
    const a = await mintKey(ws.deps, ws.admin, { self: ["*"] }, { name: "alpha" });
    const b = await mintKey(ws.deps, ws.member, { self: ["WHOAMI"] }, { name: "beta" });
    const run = await cli(ws, ["key", "list"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(run.stdout).toContain(a.key.id);
    expect(run.stdout).toContain(`${b.key.prefix}…`);
    expect(run.stdout).toContain('"alpha"');
    expect(run.stdout).toContain("owner=member@example.com");
    expect(run.stdout.match(TOKEN_ANYWHERE)).toBeNull();
    for (const { token } of [a, b]) {
      expect(run.stdout).not.toContain(token);
      expect(run.stdout).not.toContain(hashToken(KEYS.tokenHmac, token));
    }
  });

  test("--json and --owner: the owner's keys as records without tokens or hashes", async () => {
    const ws = await workspace();
    const a = await mintKey(ws.deps, ws.admin, {}, { name: "alpha" });
    const b = await mintKey(ws.deps, ws.member, {}, { name: "beta" });
    const run = await cli(ws, ["key", "list", "--owner", "member@example.com", "--json"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const out = JSON.parse(run.stdout) as { keys: Record<string, unknown>[] };
    expect(out.keys.map((k) => k.name)).toEqual(["beta"]);
    expect(Object.keys(out.keys[0]!)).not.toContain("token");
    expect(Object.keys(out.keys[0]!)).not.toContain("token_hash");
    expect(run.stdout).not.toContain(b.token);
    expect(run.stdout).not.toContain(hashToken(KEYS.tokenHmac, b.token));
    expect(run.stdout).not.toContain(a.key.id);
  });

  test("with no keys says so", async () => {
    const ws = await workspace();
    expect(await cli(ws, ["key", "list"])).toEqual({ code: 0, stdout: "no API keys\n", stderr: "" });
  });
});

describe("key revoke", () => {
  test("makes the token fail verification on the next check, even for a verifier that had it cached", async () => {
    const ws = await workspace();
    const revoked = await mintKey(ws.deps, ws.admin, { self: ["*"] });
    const kept = await mintKey(ws.deps, ws.admin, { self: ["*"] });
    expect((await ws.verify(revoked.token))?.keyId).toBe(revoked.key.id);
    const run = await cli(ws, ["key", "revoke", revoked.key.id]);
    expect(run).toEqual({ code: 0, stdout: `revoked ${revoked.key.id}\n`, stderr: "" });
    expect(await ws.verify(revoked.token)).toBeNull();
    expect((await ws.verify(kept.token))?.keyId).toBe(kept.key.id);
  });

  test("an unknown id: exit 1; a missing id: exit 2", async () => {
    const ws = await workspace();
    const unknown = await cli(ws, ["key", "revoke", "key_00000000-0000-4000-8000-000000000000"]);
    expect(unknown).toEqual({ code: 1, stdout: "", stderr: "error: No such API key.\n" });
    const missing = await cli(ws, ["key", "revoke"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("the key ID is required");
  });
});

describe("the CLI runs the registry's operations as the host", () => {
  test("key revoke is API_KEY_DELETE: a malformed id is refused by its schema and no key is touched", async () => {
    const ws = await workspace();
    const kept = await mintKey(ws.deps, ws.admin, { self: ["*"] });
    const run = await cli(ws, ["key", "revoke", "not-a-key-id"]);
    expect(run).toEqual({ code: 1, stdout: "", stderr: "error: id: expected an API key id (key_<uuid>)\n" });
    expect((await ws.verify(kept.token))?.keyId).toBe(kept.key.id);
  });

  test("key list as the host sees every owner's keys, and --owner narrows through the operation's owner_id", async () => {
    const ws = await workspace();
    await mintKey(ws.deps, ws.admin, {}, { name: "of-admin" });
    await mintKey(ws.deps, ws.member, {}, { name: "of-member" });
    const all = JSON.parse((await cli(ws, ["key", "list", "--json"])).stdout) as { keys: { name: string }[] };
    expect(all.keys.map((k) => k.name).sort()).toEqual(["of-admin", "of-member"]);
    const mine = JSON.parse((await cli(ws, ["key", "list", "--json", "--owner", "admin@example.com"])).stdout) as { keys: { name: string }[] };
    expect(mine.keys.map((k) => k.name)).toEqual(["of-admin"]);
  });
});

test("key with no action prints its help and exits 2; an unknown action exits 2", async () => {
  const ws = await workspace();
  const none = await cli(ws, ["key"]);
  expect(none.code).toBe(2);
  expect(none.stderr).toContain("switchboard key create");
  const unknown = await cli(ws, ["key", "show"]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('unknown action "show"');
});
