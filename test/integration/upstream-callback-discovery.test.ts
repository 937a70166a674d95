// The upstream OAuth callback starts the discovery an authorization made possible: a connection whose
// discovery was waiting for a token is refreshed before the browser is sent back (so its page lists the
// tools), a connection already discovered is left alone, and a refused callback discovers nothing.
import { afterEach, expect, test } from "bun:test";
import { approveAuthorization, startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";

const harness = useConnectionHarness();
let upstreams: OAuthUpstream[] = [];
afterEach(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  upstreams = [];
});

const PUBLIC = "https://switchboard.test";
const SAME_SITE = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };

type World = { h: ConnectionHarness; admin: string; id: string };

async function world(): Promise<World> {
  const h = await harness({ server: { public_url: PUBLIC } });
  const upstream = await startOAuthUpstream({ cimd: false });
  upstreams.push(upstream);
  const admin = await h.cookieFor(h.admin);
  const res = await h.request("/admin/connections", { method: "POST", headers: { ...SAME_SITE, cookie: admin }, body: new URLSearchParams({ slug: "team", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauth_mode: "shared" }).toString(), redirect: "manual" });
  const id = /\/admin\/connections\/(conn_[^?]+)/.exec(res.headers.get("location") ?? "")?.[1] ?? "";
  expect(id).toStartWith("conn_");
  return { h, admin, id };
}

/** Authorize, approve as `account` (or deny), and come back to the callback: its response. */
async function authorize(w: World, decision: "approve" | "deny" = "approve"): Promise<Response> {
  const start = await w.h.request(`/admin/connections/${w.id}/oauth/authorize`, { method: "POST", headers: { ...SAME_SITE, cookie: w.admin }, redirect: "manual" });
  const url = /<a class="button" id="continue" href="([^"]+)"/.exec(await start.text())?.[1]?.replace(/&amp;/g, "&") ?? "";
  const flowCookie = /sb_upstream_flow=[^;]+/.exec(start.headers.get("set-cookie") ?? "")?.[0] ?? "";
  const location = new URL(await approveAuthorization(url, "teambot", { decision }));
  return w.h.request(`${location.pathname}${location.search}`, { headers: { cookie: `${w.admin}; ${flowCookie}` }, redirect: "manual" });
}

test("an authorization a waiting discovery lacked is followed by a discovery before the browser is sent back", async () => {
  const w = await world();
  w.h.gateway.statuses.set(w.id, { state: "needs_authorization", lastError: "not authorized yet", since: new Date() });
  const done = await authorize(w);
  expect(done.status).toBe(303);
  expect(w.h.gateway.refreshed).toEqual([w.id]);
});

test("a connection already discovered is not discovered again, and a denied authorization discovers nothing", async () => {
  const w = await world();
  w.h.gateway.statuses.set(w.id, { state: "connected", lastError: null, since: new Date() });
  expect((await authorize(w)).status).toBe(303);
  w.h.gateway.statuses.set(w.id, { state: "needs_authorization", lastError: "not authorized yet", since: new Date() });
  expect((await authorize(w, "deny")).status).toBe(400);
  expect(w.h.gateway.refreshed).toEqual([]);
});

test("a status that cannot be read or a discovery that fails never turns a stored authorization into an error page", async () => {
  const w = await world();
  w.h.gateway.status = async () => {
    throw new Error("the gateway is unreachable");
  };
  expect((await authorize(w)).status).toBe(303);
  expect(w.h.gateway.refreshed).toEqual([]);

  w.h.gateway.status = async () => ({ state: "needs_authorization", lastError: "not authorized yet", since: new Date() });
  w.h.gateway.refresh = async () => {
    throw new Error("the upstream is down");
  };
  const done = await authorize(w);
  expect(done.status).toBe(303);
  expect(done.headers.get("location")).toBe(`/admin/connections/${w.id}?oauth=connected#oauth`);
});
