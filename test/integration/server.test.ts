// A real listening server: start-up failures an operator can act on, graceful shutdown with a request
// in flight, and the JSON request log (never the query string).
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ping } from "../../src/db/client.ts";
import { dialectOf } from "../../src/db/store.ts";
import { rawRow } from "../support/raw-sql.ts";
import { createLogger, silentLogger } from "../../src/logger.ts";
import { startServer, StartupError } from "../../src/server.ts";
import { createTestApp, startTestServer, testConfig, type TestServer } from "../support/app.ts";
import { insertUser, PASSWORD, sessionCookieFor, TEST_PASSWORD_COST } from "../support/users.ts";

const running: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(options);
  running.push(s);
  return s;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-server-test-"));
  dirs.push(dir);
  return dir;
}

/** What a start-up throws; fails the test if it starts. */
async function startupFailure(run: () => Promise<unknown>): Promise<StartupError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(StartupError);
    return err as StartupError;
  }
  throw new Error("expected a StartupError, but the server started");
}

/** A log that keeps its lines and lets a test await the first line that matches. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const waiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  const logger = createLogger({
    level: "debug",
    write: (text) => {
      raw.push(text);
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    },
  });
  const waitFor = (match: (line: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const found = lines.find(match);
      if (found) resolve(found);
      else waiters.push({ match, resolve });
    });
  return { logger, lines, raw, waitFor };
}

describe("start-up failures", () => {
  test("a port in use is a StartupError saying so", async () => {
    const first = await start();
    expect(first.server.port).toBeGreaterThan(0);
    const dir = tempDir();
    const err = await startupFailure(() => startServer(testConfig(dir, { server: { listen: `127.0.0.1:${first.server.port}` } }), silentLogger, { announceSetupUrl: () => {} }));
    expect(err.message).toContain("already in use");
    expect(err.message).toContain(`127.0.0.1:${first.server.port}`);
    // The first server is unaffected.
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
  });

  test("a data dir that cannot be created is a StartupError naming it", async () => {
    const dir = tempDir();
    // A regular file where a directory should be: mkdir fails even for root, unlike chmod.
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "");
    // The config is frozen once built: a copy names the blocked path.
    const base = testConfig(dir);
    const config = { ...base, database: { ...base.database, path: join(blocker, "data", "switchboard.db") }, dataDir: join(blocker, "data") };
    const err = await startupFailure(() => startServer(config, silentLogger, { announceSetupUrl: () => {} }));
    expect(err.message).toContain(blocker);
    expect(err.message).toMatch(/data dir|database/);
  });

  test("a database path that is a directory is a StartupError", async () => {
    const dir = tempDir();
    const config = testConfig(dir);
    mkdirSync(config.database.path, { recursive: true });
    const err = await startupFailure(() => startServer(config, silentLogger, { announceSetupUrl: () => {} }));
    expect(err.message).toContain(config.database.path);
  });
});

describe("the setup link at start", () => {
  test("is announced (not logged) when there are no users, and works", async () => {
    const log = capturingLog();
    const s = await start({ logger: log.logger });
    expect(s.setupUrl).toStartWith(`${s.url}/admin/setup?token=`);
    const token = new URL(s.setupUrl!).searchParams.get("token")!;
    expect(log.raw.join("\n")).not.toContain(token);
    const page = await fetch(s.setupUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Create the first admin");
  });
});

describe("the public URL on port 0", () => {
  test("the config stays frozen and unchanged; the links name the port the OS picked", async () => {
    const config = testConfig(tempDir(), { server: { public_url: undefined } });
    let setupUrl: string | null = null;
    const server = await startServer(config, silentLogger, { announceSetupUrl: (link) => (setupUrl = link) });
    try {
      const { url } = server;
      expect(server.port).toBeGreaterThan(0);
      // The config passed in is frozen and never assigned: the server runs on a copy with the real URL.
      expect(Object.isFrozen(config) && Object.isFrozen(config.server) && Object.isFrozen(config.security)).toBe(true);
      expect(config.server.public_url).toBe("http://127.0.0.1:0");
      expect(() => {
        (config.server as { public_url: string }).public_url = "http://evil.example";
      }).toThrow(TypeError);
      const used = server.deps.config;
      expect(used.server.public_url).toBe(url);
      expect(Object.isFrozen(used) && Object.isFrozen(used.server)).toBe(true);

      // The 401 challenge and the OAuth metadata name the listening URL.
      const denied = await fetch(`${url}/mcp/self`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${url}/.well-known/oauth-protected-resource/mcp/self"`);
      const metadata = (await (await fetch(`${url}/.well-known/oauth-protected-resource/mcp/self`)).json()) as { resource: string };
      expect(metadata.resource).toBe(`${url}/mcp/self`);
      // So do the setup link and the admin's dashboard.
      expect(setupUrl).toStartWith(`${url}/admin/setup?token=`);
      const cookie = await sessionCookieFor(server.deps, await insertUser(server.deps, "admin"), used.security.session_ttl);
      const dashboard = await fetch(`${url}/admin`, { headers: { cookie } });
      expect(dashboard.status).toBe(200);
      const html = await dashboard.text();
      expect(html).toContain(`<code>${url}</code>`);
      expect(html).not.toContain("127.0.0.1:0");
      // The admin's CSRF check trusts the real origin, not the unresolved one.
      const login = (origin: string) =>
        fetch(`${url}/admin/login`, { method: "POST", redirect: "manual", headers: { origin, "content-type": "application/x-www-form-urlencoded" }, body: "email=nobody%40example.com&password=x" });
      expect((await login(url)).status).not.toBe(403);
      expect((await login("http://127.0.0.1:0")).status).toBe(403);
    } finally {
      await server.stop();
    }
  });
});

describe("the password hash's cost", () => {
  /** The stored password hash of `email`, read from the database file. */
  function storedHash(path: string, email: string): string {
    const sqlite = new Database(path, { readonly: true });
    try {
      return (sqlite.query("SELECT password_hash FROM users WHERE email = ?").get(email) as { password_hash: string }).password_hash;
    } finally {
      sqlite.close();
    }
  }

  test("a server started with nothing injected stores the first admin's password at the production cost, and signs them in", async () => {
    const config = testConfig(tempDir(), { server: { public_url: undefined } });
    let setupUrl = "";
    const server = await startServer(config, silentLogger, { announceSetupUrl: (url) => (setupUrl = url) });
    try {
      const token = new URL(setupUrl).searchParams.get("token")!;
      const fields = { email: "first@example.com", password: PASSWORD };
      const created = await fetch(`${server.url}/admin/setup`, { method: "POST", body: new URLSearchParams({ token, ...fields, confirm: PASSWORD }), redirect: "manual" });
      expect(created.status).toBe(303);
      expect(storedHash(config.database.path, fields.email)).toStartWith("$argon2id$v=19$m=65536,t=2,p=1$");
      const signedIn = await fetch(`${server.url}/admin/login`, { method: "POST", body: new URLSearchParams({ ...fields, next: "/admin" }), redirect: "manual" });
      expect(signedIn.status).toBe(303);
    } finally {
      await server.stop();
    }
  });

  test("the test builders inject the cheap cost: their users' hashes carry it, and they sign in with their password only", async () => {
    const t = await createTestApp();
    try {
      expect(t.deps.passwordCost).toEqual(TEST_PASSWORD_COST);
      await t.createUser("cheap@example.com", "member");
      expect(((await rawRow<{ password_hash: string }>(t.deps, "SELECT password_hash FROM users WHERE email = ?", "cheap@example.com"))!).password_hash).toStartWith(`$argon2id$v=19$m=${TEST_PASSWORD_COST.memoryCost},t=${TEST_PASSWORD_COST.timeCost},p=1$`);
      expect(await t.signIn("cheap@example.com")).toStartWith("sb_session=");
      const wrong = await t.request("/admin/login", { method: "POST", body: new URLSearchParams({ email: "cheap@example.com", password: `${PASSWORD}!` }) });
      expect(wrong.status).toBe(401);
    } finally {
      t.close();
    }
  });
});

/** Reads from a raw socket until `found` accepts everything received so far. */
function readUntil(socket: Socket, found: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (found(text)) {
        socket.off("data", onData);
        socket.off("close", onClose);
        resolve(text);
      }
    };
    const onClose = () => reject(new Error(`connection closed; received:\n${text}`));
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

describe("graceful shutdown", () => {
  test("stop() lets a request in flight finish, refuses new connections, then closes the database", async () => {
    const s = await start({ overrides: { server: { shutdown_timeout: "60s" } } });
    const socket = connect(s.server.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const body = new URLSearchParams({ email: "nobody@example.com", password: PASSWORD, next: "/admin" }).toString();
    // Expect: 100-continue makes the server tell us when it has taken the request on, so stop() is
    // called with the request provably in flight (its body not yet sent) rather than after a sleep.
    const interim = readUntil(socket, (text) => text.includes("\r\n\r\n"));
    socket.write(
      "POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
    expect(await interim).toStartWith("HTTP/1.1 100 Continue");
    socket.write(body.slice(0, 10));

    let stopped = false;
    const stopping = s.server.stop().then(() => (stopped = true));

    // While it drains, the listener is closed: a new request cannot even connect.
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    expect(stopped).toBe(false);
    // ...and the database is still open for the request in flight.
    expect(await ping(s.server.deps.db)).toBeUndefined();

    const response = readUntil(socket, (text) => text.includes("</html>"));
    socket.write(body.slice(10));
    const text = await response;
    expect(text).toStartWith("HTTP/1.1 401");
    expect(text).toContain("Wrong email or password.");
    socket.destroy();

    await stopping;
    expect(stopped).toBe(true);
    await expect(ping(s.server.deps.db)).rejects.toThrow();
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    // A second stop() is the same completed shutdown, not an error.
    await s.server.stop();
  });

  test("stop() of an idle server resolves, and the port and database are released", async () => {
    const dir = tempDir();
    const s = await startTestServer({ dir });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    await s.server.stop();
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    await expect(ping(s.server.deps.db)).rejects.toThrow();
    // The same port and data dir can be taken again at once.
    const again = await start({ dir, overrides: { server: { listen: `127.0.0.1:${s.server.port}` } } });
    expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
  });
});

describe("/healthz", () => {
  test("200 while the database answers; 503 naming only the failing check once it does not, the cause in the log", async () => {
    const logged: string[] = [];
    const t = await createTestApp({ logger: createLogger({ level: "error", write: (line) => void logged.push(line) }) });
    try {
      const ok = await t.request("/healthz");
      expect([ok.status, await ok.json()]).toEqual([200, { status: "ok" }]);
      expect(logged).toEqual([]);
      await t.close();
      const down = await t.request("/healthz");
      const text = await down.text();
      expect([down.status, JSON.parse(text)]).toEqual([503, { status: "unavailable", checks: { database: "failing" } }]);
      expect(text).not.toContain("closed");
      expect(logged.join("\n")).toContain("health check failed");
      // The driver's own words: SQLite's about its closed handle, drizzle's failed query on PostgreSQL's closed pool.
      expect(logged.join("\n")).toContain(dialectOf(t.deps.db) === "sqlite" ? "closed database" : "Failed query");
    } finally {
      t.close();
    }
  });
});

describe("request log", () => {
  test("one JSON line per request with method, path, status and duration, never the query string", async () => {
    const log = capturingLog();
    const s = await start({ logger: log.logger });
    const res = await fetch(`${s.url}/admin/login?next=%2Fadmin%2Fsecret-ish&token=hunter2`, { redirect: "manual" });
    expect(res.status).toBe(200);
    const line = await log.waitFor((l) => l.msg === "request" && l.path === "/admin/login");
    expect(line).toMatchObject({ level: "info", msg: "request", method: "GET", path: "/admin/login", status: 200 });
    expect(typeof line.duration_ms).toBe("number");
    expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
    expect(typeof line.time).toBe("string");

    await fetch(`${s.url}/nope?api_key=hunter2`);
    const notFound = await log.waitFor((l) => l.msg === "request" && l.path === "/nope");
    expect(notFound).toMatchObject({ method: "GET", status: 404 });

    const all = log.raw.join("\n");
    expect(all).not.toContain("secret-ish");
    expect(all).not.toContain("hunter2");
    for (const l of log.lines.filter((l) => l.msg === "request")) expect(String(l.path)).not.toContain("?");
    for (const raw of log.raw) expect(() => JSON.parse(raw)).not.toThrow();
  });

  test("a failed sign-in is logged without the password or the email", async () => {
    const log = capturingLog();
    const s = await start({ logger: log.logger });
    await fetch(`${s.url}/admin/login`, { method: "POST", body: new URLSearchParams({ email: "who@example.com", password: "a-password-to-hide" }), redirect: "manual" });
    await log.waitFor((l) => l.msg === "request" && l.method === "POST");
    const failed = await log.waitFor((l) => l.msg === "sign-in failed");
    expect(failed.ip).toBe("127.0.0.1");
    const all = log.raw.join("\n");
    expect(all).not.toContain("a-password-to-hide");
    expect(all).not.toContain("who@example.com");
  });
});

describe("request bodies over server.max_body_size on a real socket", () => {
  test("get 413, not a 500 or a dropped connection", async () => {
    const s = await start({ overrides: { server: { max_body_size: "1KiB" } } });
    const res = await fetch(`${s.url}/api/v1/users`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(64 * 1024) });
    expect(res.status).toBe(413);
    // The server still serves.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
