// A server whose database is gone (here: its SQLite handle closed under it) answers 503 with
// Retry-After where a credential has to be checked (JSON-RPC on /mcp, JSON on /api, the error page in
// the admin), never a 401 and never the permission it had cached; /healthz says only that the
// database is failing.
import { describe, expect, test } from "bun:test";
import { apiRequest, mcpRequest, mintKey, useHarness } from "../support/key-harness.ts";

const harness = useHarness();

describe("when the database cannot be reached", () => {
  test("a key verified (and cached) a moment ago gets 503 on /api and /mcp, the admin its error page, /healthz a bare 503", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const cookie = await h.cookieFor(h.admin);
    expect((await apiRequest(h.app, "GET", "/keys", { token })).status).toBe(200);
    expect((await h.request("/admin", { headers: { cookie } })).status).toBe(200);
    // The recorder's pending last-used write would fail against the closed database.
    await h.deps.lastUsed.stop();
    h.deps.sqlite!.close();

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
  });
});
