// A server whose database is gone (its SQLite handle closed under it; its PostgreSQL database closed
// to connections and its connections ended) answers 503 with Retry-After where a credential has to be
// checked (JSON-RPC on /mcp, JSON on /api, the error page in the admin), never a 401 and never the
// permission it had cached; /healthz says only that the database is failing.
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { apiRequest, createHarness, mcpRequest, mintKey, useHarness, type Harness } from "../support/key-harness.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";

const harness = useHarness();
const pg = usePostgres();
reportMissingPostgres("the PostgreSQL half of the unreachable-database tests", test);
const pgTest = havePostgres ? test : test.skip;

/**
 * Takes the app's database away: SQLite's connection closed; PostgreSQL's database refusing new
 * connections and every open one ended (the pool cannot reconnect).
 */
async function cutOff(h: Harness): Promise<void> {
  // The recorder's pending last-used write would fail against the lost database.
  await h.deps.lastUsed.stop();
  if (h.deps.sqlite) {
    // Through the handle, which finalizes the statements it prepared (a bare close() would wait for them).
    await h.closeDatabase();
    return;
  }
  const url = new URL(h.config.database.url!);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = new SQL({ url: url.toString(), max: 1 });
  try {
    await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
  } finally {
    await admin.close();
  }
}

/** A key verified (and cached) a moment ago, then the database lost: every face answers 503. */
async function refusesWhenCutOff(h: Harness): Promise<void> {
  const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
  const cookie = await h.cookieFor(h.admin);
  expect((await apiRequest(h.app, "GET", "/keys", { token })).status).toBe(200);
  expect((await h.request("/admin", { headers: { cookie } })).status).toBe(200);
  await cutOff(h);

  const api = await apiRequest(h.app, "GET", "/keys", { token });
  expect(api.status).toBe(503);
  expect(api.headers.get("retry-after")).toBe("2");
  expect(((await api.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");

  const mcp = await mcpRequest(h.app, token, "tools/list");
  expect(mcp.status).toBe(503);
  expect(mcp.headers.get("retry-after")).toBe("2");
  const rpc = (await mcp.json()) as { jsonrpc: string; error: { data: { code: string } } };
  expect(rpc.jsonrpc).toBe("2.0");
  expect(rpc.error.data.code).toBe("UNAVAILABLE");

  const admin = await h.request("/admin", { headers: { cookie } });
  expect(admin.status).toBe(503);
  expect(admin.headers.get("content-type")).toContain("text/html");

  const health = await h.request("/healthz");
  expect(health.status).toBe(503);
  expect(await health.json()).toEqual({ status: "unavailable", checks: { database: "failing" } });
}

describe("when the database cannot be reached", () => {
  test("a key verified (and cached) a moment ago gets 503 on /api and /mcp, the admin its error page, /healthz a bare 503", async () => {
    await refusesWhenCutOff(await harness());
  });

  pgTest("the same on PostgreSQL, where the change feed's query is what fails", async () => {
    const h = await createHarness({ database: { url: await pg.emptyUrl(), pool_size: 2 } });
    try {
      await refusesWhenCutOff(h);
    } finally {
      await h.close().catch(() => {});
    }
  });
});
