// The admin's API keys page: guests are sent to sign in; members see and manage only their own keys
// and cannot grant admin-only tools; admins create keys (checkboxes or raw JSON), see the token exactly
// once with a ready MCP client configuration, rotate and revoke; cross-site posts are refused.
import { beforeAll, describe, expect, test } from "bun:test";
import { getApiKey, listApiKeys } from "../../src/domain/access/api-keys.ts";
import type { User } from "../../src/domain/access/users.ts";
import { CATALOG } from "../../src/operations/index.ts";
import { PUBLIC_URL } from "../support/app.ts";
import { mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN, useSharedHarness, type Harness } from "../support/key-harness.ts";

const harness = useSharedHarness();
let h: Harness;
let boss: User;
let worker: User;
let bossCookie: string;
let workerCookie: string;

beforeAll(async () => {
  h = await harness();
  boss = await h.createUser("boss@example.com", "admin");
  worker = await h.createUser("worker@example.com", "member");
  bossCookie = await h.signIn(boss.email);
  workerCookie = await h.signIn(worker.email);
});

function page(cookie: string | null, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(h.app.request("/admin/keys", { headers: { ...(cookie ? { cookie } : {}), ...headers } }));
}

/** A same-origin form POST, as the browser sends it. */
function submit(cookie: string | null, path: string, fields: [string, string][], headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    h.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", ...(cookie ? { cookie } : {}), ...headers },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

function unescapeHtml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** The one-time dialog, if any: its token, the server names of its snippet sets, its snippets by "<set>-<client>", and its markup. */
function dialogOf(html: string): { token: string; servers: string[]; snippets: Record<string, string>; markup: string } | null {
  const markup = /<dialog[^>]*id="token-dialog"[\s\S]*?<\/dialog>/.exec(html)?.[0];
  if (!markup) return null;
  const token = /<code id="new-token"[^>]*>([^<]*)<\/code>/.exec(markup)?.[1];
  if (!token) throw new Error("a token dialog without its token");
  const snippets = Object.fromEntries([...markup.matchAll(/<pre id="token-(\d+-[a-z-]+)">([^<]*)<\/pre>/g)].map((m) => [m[1]!, unescapeHtml(m[2]!)]));
  const servers = [...markup.matchAll(/data-server="([^"]*)"/g)].map((m) => m[1]!);
  return { token, servers, snippets, markup };
}

function alertOf(html: string): string | null {
  const text = /<div class="alert (?:ok|error)"[^>]*>([^<]*)<\/div>/.exec(html)?.[1];
  return text === undefined ? null : unescapeHtml(text);
}

async function keysNamed(name: string) {
  return (await listApiKeys(h.deps.db)).filter((k) => k.name === name);
}

describe("guests", () => {
  test("GET is redirected to sign-in, showing no keys", async () => {
    const { key } = await mintKey(h.deps, boss, {}, { name: "guest-must-not-see" });
    const res = await page(null);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Fkeys");
    const body = await res.text();
    expect(body).not.toContain("guest-must-not-see");
    expect(body).not.toContain(key.prefix);
  });

  test("htmx GET gets 401 with HX-Redirect", async () => {
    const res = await page(null, { "hx-request": "true" });
    expect(res.status).toBe(401);
    expect(res.headers.get("hx-redirect")).toStartWith("/admin/login");
    expect(await res.text()).toBe("");
  });

  test("POST creates nothing and shows no token", async () => {
    const res = await submit(null, "/admin/keys", [["name", "guest-made"], ["self", "WHOAMI"]]);
    expect(res.status).toBe(303);
    expect(await res.text()).not.toMatch(TOKEN_ANYWHERE);
    expect(await keysNamed("guest-made")).toEqual([]);
  });

  test("a forged session cookie is treated as none", async () => {
    const res = await page("sb_session=forged.c2lnbmF0dXJl");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("/admin/login");
  });
});

describe("members", () => {
  test("see only their own keys, with no owner picker and no admin-only tools to grant", async () => {
    await mintKey(h.deps, worker, { self: ["WHOAMI"] }, { name: "worker-own-key" });
    const adminsKey = await mintKey(h.deps, boss, { self: ["*"] }, { name: "boss-private-key" });
    const res = await page(workerCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("worker-own-key");
    expect(html).not.toContain("boss-private-key");
    expect(html).not.toContain(adminsKey.key.prefix);
    expect(html).not.toContain("boss@example.com");
    expect(html).not.toContain('name="owner_id"');
    expect(html).not.toContain('name="self_all"');
    for (const tool of CATALOG.forMembers) expect(html).toContain(`name="self" value="${tool}"`);
    for (const tool of ["USER_CREATE", "USER_UPDATE", "USER_DELETE"]) expect(html).not.toContain(`value="${tool}"`);
    expect(html).not.toMatch(TOKEN_ANYWHERE);
  });

  const refusals: [string, [string, string][], string][] = [
    ["every tool (self_all)", [["self_all", "1"]], 'self: "*" is more than a member may grant'],
    ["an admin-only tool by checkbox", [["self", "WHOAMI"], ["self", "USER_CREATE"]], 'self: "USER_CREATE" is more than a member may grant'],
    ["an admin-only tool by raw JSON", [["permissions_json", '{"self": ["USER_DELETE"]}']], 'self: "USER_DELETE" is more than a member may grant'],
    ["another owner", [["self", "WHOAMI"], ["owner_id", "OWNER"]], "Only admins may create keys for other users."],
  ];
  for (const [what, fields, message] of refusals) {
    test(`cannot grant ${what}: the error is shown and nothing is created`, async () => {
      const name = `worker-refused-${what}`;
      const res = await submit(workerCookie, "/admin/keys", [["name", name], ...fields.map(([k, v]): [string, string] => [k, v === "OWNER" ? boss.id : v])]);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const html = await res.text();
      expect(alertOf(html)).toContain(message);
      expect(dialogOf(html)).toBeNull();
      expect(html).not.toMatch(TOKEN_ANYWHERE);
      expect(await keysNamed(name)).toEqual([]);
    });
  }

  test("create a key for themselves with member tools, capped to the member", async () => {
    const res = await submit(workerCookie, "/admin/keys", [["name", "worker-made"], ["self", "WHOAMI"], ["self", "API_KEY_LIST"]]);
    expect(res.status).toBe(200);
    const dialog = dialogOf(await res.text());
    expect(dialog?.token).toMatch(TOKEN_PATTERN);
    const [made] = await keysNamed("worker-made");
    expect(made).toMatchObject({ ownerId: worker.id, permissions: { self: ["WHOAMI", "API_KEY_LIST"] } });
    expect((await h.deps.verifyKey(dialog!.token))?.keyId).toBe(made!.id);
  });

  test("cannot rotate or revoke someone else's key: it reads as not found and keeps working", async () => {
    const theirs = await mintKey(h.deps, boss, { self: ["WHOAMI"] }, { name: "boss-untouchable" });
    for (const action of ["rotate", "delete"]) {
      const res = await submit(workerCookie, `/admin/keys/${theirs.key.id}/${action}`, []);
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(alertOf(html)).toBe("No such API key.");
      expect(dialogOf(html)).toBeNull();
      expect(html).not.toContain("boss-untouchable");
    }
    expect((await h.deps.verifyKey(theirs.token))?.keyId).toBe(theirs.key.id);
    expect((await getApiKey(h.deps.db, theirs.key.id))?.prefix).toBe(theirs.key.prefix);
  });
});

describe("admins", () => {
  test("see everyone's keys with their owners, the owner picker and every tool", async () => {
    await mintKey(h.deps, worker, {}, { name: "worker-key-for-admin-view" });
    const html = await (await page(bossCookie)).text();
    expect(html).toContain("worker-key-for-admin-view");
    expect(html).toContain("worker@example.com");
    expect(html).toContain('name="owner_id"');
    expect(html).toContain('name="self_all"');
    for (const tool of CATALOG.all) expect(html).toContain(`name="self" value="${tool}"`);
    expect(html).not.toMatch(TOKEN_ANYWHERE);
  });

  test("create with checkboxes: the token is shown once, with an mcpServers config; never again", async () => {
    const res = await submit(bossCookie, "/admin/keys", [["name", "boss-checkboxes"], ["self", "WHOAMI"], ["self", "USER_LIST"], ["expires_in", "30d"]]);
    expect(res.status).toBe(200);
    const html = await res.text();
    const dialog = dialogOf(html);
    expect(dialog).not.toBeNull();
    const { token, servers, snippets, markup } = dialog!;
    expect(token).toMatch(TOKEN_PATTERN);
    // A key for the management API alone: its snippets name the server "switchboard-self", token filled in.
    expect(servers).toEqual(["switchboard-self"]);
    expect(JSON.parse(snippets["0-cursor"]!)).toEqual({ mcpServers: { "switchboard-self": { url: `${PUBLIC_URL}/mcp/self`, headers: { Authorization: `Bearer ${token}` } } } });
    expect(snippets["0-claude-code"]).toBe(`claude mcp add --transport http switchboard-self ${PUBLIC_URL}/mcp/self --header "Authorization: Bearer ${token}"`);
    expect(snippets["0-curl"]).toStartWith(`curl -sS ${PUBLIC_URL}/mcp/self -H "Authorization: Bearer ${token}"`);
    // The token appears in the dialog (the token line and each snippet), and nowhere else on the page.
    expect(markup.match(TOKEN_ANYWHERE)!.length).toBe(1 + Object.keys(snippets).length);
    expect(html.replace(markup, "")).not.toContain(token);

    const [made] = await keysNamed("boss-checkboxes");
    expect(made).toMatchObject({ ownerId: boss.id, permissions: { self: ["WHOAMI", "USER_LIST"] } });
    expect(made!.expiresAt).not.toBeNull();
    expect(await h.deps.verifyKey(token)).toMatchObject({ keyId: made!.id, permissions: { self: ["WHOAMI", "USER_LIST"] } });

    const later = await (await page(bossCookie)).text();
    expect(later).toContain("boss-checkboxes");
    expect(later).toContain(`${made!.prefix}…`);
    expect(later).not.toContain(token);
    expect(later).not.toContain(token.slice(made!.prefix.length));
    expect(dialogOf(later)).toBeNull();
  });

  test('"all management tools" creates {"self": ["*"]}', async () => {
    const res = await submit(bossCookie, "/admin/keys", [["name", "boss-all"], ["self_all", "1"], ["self", "WHOAMI"]]);
    expect(res.status).toBe(200);
    expect(dialogOf(await res.text())?.token).toMatch(TOKEN_PATTERN);
    expect((await keysNamed("boss-all"))[0]?.permissions).toEqual({ self: ["*"] });
  });

  test("create with raw JSON, which overrides the checkboxes", async () => {
    const raw = '{"self": ["USER_LIST"], "*": ["*"]}';
    const res = await submit(bossCookie, "/admin/keys", [["name", "boss-raw"], ["self", "WHOAMI"], ["permissions_json", raw]]);
    expect(res.status).toBe(200);
    const dialog = dialogOf(await res.text());
    expect(dialog?.token).toMatch(TOKEN_PATTERN);
    expect((await keysNamed("boss-raw"))[0]?.permissions).toEqual({ self: ["USER_LIST"], "*": ["*"] });
  });

  test("raw JSON that does not parse or names unknown things is refused, the form keeps what was typed", async () => {
    const cases: [string, string][] = [
      ['{"self": [', "The raw permissions are not valid JSON."],
      ['{"bogus": ["*"]}', "bogus: unknown resource"],
      ['{"self": ["NOPE"]}', 'self: unknown management tool "NOPE"'],
      ['["self"]', "permissions: expected an object"],
    ];
    for (const [raw, message] of cases) {
      const res = await submit(bossCookie, "/admin/keys", [["name", "boss-bad-raw"], ["permissions_json", raw]]);
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(alertOf(html)).toContain(message);
      expect(html).toContain(`>${raw.replace(/"/g, "&quot;")}</textarea>`);
      expect(dialogOf(html)).toBeNull();
    }
    expect(await keysNamed("boss-bad-raw")).toEqual([]);
  });

  test("create a key for a member, capped by the member's role", async () => {
    const ok = await submit(bossCookie, "/admin/keys", [["name", "for-worker"], ["owner_id", worker.id], ["self", "WHOAMI"]]);
    expect(ok.status).toBe(200);
    expect((await keysNamed("for-worker"))[0]?.ownerId).toBe(worker.id);
    const tooMuch = await submit(bossCookie, "/admin/keys", [["name", "for-worker-too-much"], ["owner_id", worker.id], ["self", "USER_DELETE"]]);
    expect(tooMuch.status).toBe(403);
    const alert = alertOf(await tooMuch.text());
    expect(alert).toContain("A key may only hold what you may grant and what its owner's role allows");
    expect(alert).toContain('self: "USER_DELETE" is more than the owner (a member) may grant');
    expect(await keysNamed("for-worker-too-much")).toEqual([]);
  });

  test("rotate shows a new token once; the old token stops working", async () => {
    const { key, token: old } = await mintKey(h.deps, boss, { self: ["WHOAMI"] }, { name: "boss-rotate" });
    expect((await h.deps.verifyKey(old))?.keyId).toBe(key.id);
    const res = await submit(bossCookie, `/admin/keys/${key.id}/rotate`, []);
    expect(res.status).toBe(200);
    const html = await res.text();
    const dialog = dialogOf(html);
    expect(dialog?.token).toMatch(TOKEN_PATTERN);
    expect(dialog!.token).not.toBe(old);
    expect(html).toContain("New token for");
    expect(html).not.toContain(old);
    expect(await h.deps.verifyKey(old)).toBeNull();
    expect((await h.deps.verifyKey(dialog!.token))?.keyId).toBe(key.id);
    expect((await getApiKey(h.deps.db, key.id))?.permissions).toEqual({ self: ["WHOAMI"] });
    expect(await (await page(bossCookie)).text()).not.toContain(dialog!.token);
  });

  test("rotate with a grace period keeps the old token working, and says until when", async () => {
    const { key, token: old } = await mintKey(h.deps, boss, { self: ["WHOAMI"] }, { name: "boss-rotate-grace" });
    const res = await submit(bossCookie, `/admin/keys/${key.id}/rotate`, [["grace_period", "1h"]]);
    expect(res.status).toBe(200);
    const html = await res.text();
    const fresh = dialogOf(html)!.token;
    expect(fresh).toMatch(TOKEN_PATTERN);
    expect(html).not.toContain(old);
    expect(html).toContain("old token until");
    expect((await h.deps.verifyKey(old))?.keyId).toBe(key.id);
    expect((await h.deps.verifyKey(fresh))?.keyId).toBe(key.id);
    expect((await getApiKey(h.deps.db, key.id))?.previousTokenExpiresAt).not.toBeNull();
  });

  test("rotate with a grace period beyond 7 days is refused and changes nothing", async () => {
    const { key, token: old } = await mintKey(h.deps, boss, { self: ["WHOAMI"] }, { name: "boss-rotate-too-long" });
    const res = await submit(bossCookie, `/admin/keys/${key.id}/rotate`, [["grace_period", "30d"]]);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(alertOf(html)).toContain("grace_period");
    expect(dialogOf(html)).toBeNull();
    expect((await h.deps.verifyKey(old))?.keyId).toBe(key.id);
  });

  test("revoke removes the key and its token stops working", async () => {
    const { key, token } = await mintKey(h.deps, worker, { self: ["WHOAMI"] }, { name: "worker-revoked-by-boss" });
    const res = await submit(bossCookie, `/admin/keys/${key.id}/delete`, [], { "hx-request": "true" });
    expect(res.status).toBe(200);
    const html = await res.text();
    // htmx gets the section, not a whole page.
    expect(html).toStartWith('<section id="keys-section">');
    expect(html).not.toContain("<html");
    expect(alertOf(html)).toBe("Key revoked.");
    expect(html).not.toContain("worker-revoked-by-boss");
    expect(await getApiKey(h.deps.db, key.id)).toBeNull();
    expect(await h.deps.verifyKey(token)).toBeNull();
  });

  test("revoking a key that is gone says so", async () => {
    const { key } = await mintKey(h.deps, boss, {}, { name: "boss-twice" });
    expect((await submit(bossCookie, `/admin/keys/${key.id}/delete`, [])).status).toBe(200);
    const again = await submit(bossCookie, `/admin/keys/${key.id}/delete`, []);
    expect(again.status).toBe(404);
    expect(alertOf(await again.text())).toBe("No such API key.");
  });
});

describe("cross-site requests", () => {
  const forged: [string, Record<string, string>][] = [
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
    ["a foreign Origin", { "sec-fetch-site": "", origin: "https://evil.example" }],
  ];
  for (const [name, headers] of forged) {
    test(`${name}: create, rotate and revoke are refused with 403 and change nothing`, async () => {
      const { key, token } = await mintKey(h.deps, boss, { self: ["WHOAMI"] }, { name: `csrf-target-${name}` });
      const requestHeaders = { ...headers };
      if (requestHeaders["sec-fetch-site"] === "") {
        // No Sec-Fetch-Site at all (an older browser): Origin decides.
        delete requestHeaders["sec-fetch-site"];
      }
      const post = (path: string, fields: [string, string][]) =>
        h.app.request(path, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: bossCookie, ...requestHeaders },
          body: new URLSearchParams(fields).toString(),
        });
      const created = await post("/admin/keys", [["name", `csrf-made-${name}`], ["self_all", "1"]]);
      expect(created.status).toBe(403);
      expect(await created.text()).not.toMatch(TOKEN_ANYWHERE);
      expect(await keysNamed(`csrf-made-${name}`)).toEqual([]);
      expect((await post(`/admin/keys/${key.id}/rotate`, [])).status).toBe(403);
      expect((await post(`/admin/keys/${key.id}/delete`, [])).status).toBe(403);
      expect((await h.deps.verifyKey(token))?.keyId).toBe(key.id);
    });
  }
});
