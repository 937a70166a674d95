// The OAuth upstream fixture's sign-in page in Chromium, driven the way the end-to-end tests drive it:
// fill "Username", click "Approve" (or "Deny"), and land on the client's redirect URI with a code (or
// access_denied), state and iss. The page loads nothing else and runs no script.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { createHash, randomBytes } from "node:crypto";
import { type OAuthUpstream, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { haveChromium, launchChromium, watchForProblems } from "../support/browser.ts";

const REDIRECT = "http://127.0.0.1:9/callback";

describe.skipIf(!haveChromium)("the OAuth upstream fixture's sign-in page in a browser", () => {
  let browser: Browser;
  let upstream: OAuthUpstream;
  beforeAll(async () => {
    browser = await launchChromium();
    upstream = await startOAuthUpstream();
  });
  afterAll(async () => {
    await browser?.close();
    await upstream?.close();
  });

  /** Opens the sign-in page of a fresh public client, fills the username and clicks `button`; returns where the browser was sent. */
  async function signIn(username: string, button: "Approve" | "Deny"): Promise<{ callback: URL; problems: string[] }> {
    const registered = await fetch(`${upstream.issuer}/register`, { method: "POST", body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }) });
    const { client_id } = (await registered.json()) as { client_id: string };
    const challenge = createHash("sha256").update(randomBytes(32).toString("base64url")).digest("base64url");
    const url = new URL(`${upstream.issuer}/authorize`);
    for (const [key, value] of Object.entries({ response_type: "code", client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", resource: upstream.mcpUrl, state: "browser-state" })) url.searchParams.set(key, value);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchForProblems(page, { minStatus: 400, origin: upstream.origin });
    let reached: URL | null = null;
    // Nothing listens at the redirect URI; the browser's arrival there is the answer.
    await page.route(`${REDIRECT}**`, async (route) => {
      reached = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: "text/plain", body: "back at the client" });
    });
    await page.goto(url.href);
    expect(await page.title()).toBe("Sign in to the fixture");
    await page.getByLabel("Username").fill(username);
    await page.getByRole("button", { name: button }).click();
    await page.waitForURL(`${REDIRECT}**`);
    await context.close();
    if (!reached) throw new Error("the browser never reached the redirect URI");
    return { callback: reached, problems };
  }

  test("Approve sends the browser back with a code, the state and the issuer", async () => {
    const { callback, problems } = await signIn("alice", "Approve");
    expect(callback.searchParams.get("code")).toStartWith("code_");
    expect(callback.searchParams.get("state")).toBe("browser-state");
    expect(callback.searchParams.get("iss")).toBe(upstream.issuer);
    expect(problems).toEqual([]);
  });

  test("Deny sends it back with access_denied and no code", async () => {
    const before = upstream.stats.authorizationCodes;
    const { callback, problems } = await signIn("alice", "Deny");
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("code")).toBeNull();
    expect(upstream.stats.authorizationCodes).toBe(before);
    expect(problems).toEqual([]);
  });
});
