// Answers that show a secret are never cached (Cache-Control: no-store) on every face; a token issued in
// the admin always reaches its creator, even when the rest of the keys page fails; /admin/ is /admin.
import { describe, expect, spyOn, test } from "bun:test";
import { listApiKeys } from "../../src/domain/access/api-keys.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { ASSETS } from "../../views/assets.ts";
import { createTestApp, useFresh } from "../support/app.ts";
import { apiRequest, callTool, mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN, useHarness, type Harness } from "../support/key-harness.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useHarness();
const freshApp = useFresh(createTestApp);

async function signedIn(h: Harness): Promise<string> {
  const boss = await h.createUser("boss@example.com", "admin");
  return h.signIn(boss.email);
}

function submit(h: Harness, cookie: string, path: string, fields: [string, string][], headers: Record<string, string> = {}): Promise<Response> {
  return h.request(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", cookie, ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The token in the one-time dialog, if any. */
function shownToken(html: string): string | null {
  return /<code id="new-token"[^>]*>([^<]*)<\/code>/.exec(html)?.[1] ?? null;
}

describe("Cache-Control: no-store wherever a token is shown", () => {
  test("REST: API_KEY_CREATE and API_KEY_ROTATE answers", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const created = await apiRequest(h.app, "POST", "/keys", { token, json: { name: "new", permissions: { self: ["WHOAMI"] } } });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const id = ((await created.json()) as { key: { id: string } }).key.id;
    const rotated = await apiRequest(h.app, "POST", `/keys/${id}/rotate`, { token });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(await rotated.text()).toMatch(TOKEN_ANYWHERE);
    // Refusals and other management answers are not cacheable either.
    expect((await apiRequest(h.app, "GET", "/keys", { token })).headers.get("cache-control")).toBe("no-store");
  });

  test("MCP: tools/call of API_KEY_CREATE and API_KEY_ROTATE at /mcp/self", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["*"] });
    const call = (name: string, args: Record<string, unknown>) =>
      h.app.request("/mcp/self", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
      });
    const created = await call("API_KEY_CREATE", { name: "new", permissions: { self: ["WHOAMI"] } });
    expect(created.status).toBe(200);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const body = (await created.json()) as { result: { structuredContent: { key: { id: string }; token: string } } };
    expect(body.result.structuredContent.token).toMatch(TOKEN_PATTERN);
    const rotated = await call("API_KEY_ROTATE", { id: body.result.structuredContent.key.id });
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(await rotated.text()).toMatch(TOKEN_ANYWHERE);
  });

  test("admin: the create and rotate answers (page and htmx section)", async () => {
    const h = await harness();
    const cookie = await signedIn(h);
    for (const headers of [{}, { "hx-request": "true" }] as Record<string, string>[]) {
      const created = await submit(h, cookie, "/admin/keys", [["name", "shown"], ["self", "WHOAMI"]], headers);
      expect(created.status).toBe(200);
      expect(created.headers.get("cache-control")).toBe("no-store");
      expect(shownToken(await created.text())).toMatch(TOKEN_PATTERN);
    }
    const { key } = await mintKey(h.deps, h.admin, { self: ["WHOAMI"] });
    const rotated = await submit(h, cookie, `/admin/keys/${key.id}/rotate`, []);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(shownToken(await rotated.text())).toMatch(TOKEN_PATTERN);
  });

  test("the first-admin setup page, which carries the setup token", async () => {
    const t = await freshApp();
    const token = t.deps.setup.open();
    const res = await t.request(`/admin/setup?token=${token}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(token);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("static assets keep their long-lived cache header", async () => {
    const h = await harness();
    const name = Object.keys(ASSETS)[0]!;
    const res = await h.request(`/admin/assets/${name}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });
});

describe("/admin/", () => {
  test("signed in: sent to /admin, which is the dashboard", async () => {
    const h = await harness();
    const cookie = await signedIn(h);
    const res = await h.request("/admin/", { headers: { cookie }, redirect: "manual" });
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/admin");
    expect((await h.request("/admin", { headers: { cookie } })).status).toBe(200);
  });

  test("a guest is sent the same way, and /admin then asks for sign-in (nothing of the admin shown)", async () => {
    const h = await harness();
    const res = await h.request("/admin/", { redirect: "manual" });
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/admin");
    expect(await res.text()).not.toContain("API keys");
    const next = await h.request("/admin", { redirect: "manual" });
    expect(next.status).toBe(303);
    expect(next.headers.get("location")).toStartWith("/admin/login");
  });
});

describe("a token issued in the admin always reaches its creator", () => {
  test("when the permission picker's data source fails: the page still renders (picker empty, a warning) and the token is shown", async () => {
    const h = await harness();
    const cookie = await signedIn(h);
    const broken = await createConnection(connectionStore(h.deps), newConnectionFields({ slug: "broken", transport: "http", url: "http://127.0.0.1:9/mcp" }));
    await mintKey(h.deps, h.admin, { [broken.id]: ["*"] }, { name: "reaches broken" });
    const discovery = spyOn(h.deps.gateway, "discovery").mockImplementation(() => {
      throw new TypeError("Cannot read properties of null (reading 'name')");
    });
    try {
      const page = await h.request("/admin/keys", { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('id="picker-failed"');
      expect(html).not.toContain("Cannot read properties");
      // Its grant cannot be named now, but it is not called deleted either.
      expect(html).toContain(`<code>${broken.id}</code>: all tools`);
      expect(html).not.toContain("deleted");

      const created = await submit(h, cookie, "/admin/keys", [["name", "through-broken-picker"], ["self", "WHOAMI"]]);
      expect(created.status).toBe(200);
      const token = shownToken(await created.text());
      expect(token).toMatch(TOKEN_PATTERN);
      expect((await h.deps.verifyKey(token!))?.keyId).toBe((await listApiKeys(h.deps.db)).find((k) => k.name === "through-broken-picker")!.id);
      expect(discovery).toHaveBeenCalled();
    } finally {
      discovery.mockRestore();
    }
  });

  for (const [face, headers] of [["page", {}], ["htmx section", { "hx-request": "true" }]] as const) {
    test(`when the rest of the page fails after the key is saved (${face}): the token is shown alone, never a 500`, async () => {
      const h = await harness();
      const cookie = await signedIn(h);
      // A row the key list cannot show (corrupt permissions): listing fails after the new key is stored.
      const bad = await mintKey(h.deps, h.admin, { self: ["WHOAMI"] }, { name: "corrupt" });
      await rawRun(h.deps, "UPDATE api_keys SET permissions = ? WHERE id = ?", '{"self":"WHOAMI"}', bad.key.id);

      const created = await submit(h, cookie, "/admin/keys", [["name", "survives"], ["self", "WHOAMI"]], headers);
      expect(created.status).toBe(200);
      expect(created.headers.get("cache-control")).toBe("no-store");
      const html = await created.text();
      const token = shownToken(html);
      expect(token).toMatch(TOKEN_PATTERN);
      expect((await h.deps.verifyKey(token!))?.keyId).toBe((await listApiKeys(h.deps.db)).find((k) => k.name === "survives")!.id);
      expect(html).toContain('<section id="keys-section">');
      expect(html).toContain("could not be shown");
      if (face === "htmx section") expect(html).not.toContain("<html");
      else expect(html).toContain("<html");

      // Rotation is held to the same promise.
      const { key } = await mintKey(h.deps, h.admin, { self: ["WHOAMI"] }, { name: "to-rotate" });
      const rotated = await submit(h, cookie, `/admin/keys/${key.id}/rotate`, [], headers);
      expect(rotated.status).toBe(200);
      const fresh = shownToken(await rotated.text());
      expect((await h.deps.verifyKey(fresh!))?.keyId).toBe(key.id);
    });
  }
});
