// The agent editor and page in a real browser (Chromium through playwright-core) against a real server
// with two stdio upstreams: create an agent from both, hit a collision and resolve it with an alias
// (live, through htmx), copy a client configuration, and call a tool from "Try it".
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));

describe.skipIf(!haveChromium)("agents in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    running = await startTestServer({
      overrides: {
        connections: [
          { slug: "alpha", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "alpha" } },
          { slug: "beta", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "beta" } },
        ],
      },
    });
    server = running.server;
    await Promise.all(["alpha", "beta"].map((slug) => server.deps.gateway.refresh(configConnectionId(slug))));
    const admin = await insertUser(server.deps, "admin");
    const cookie = await sessionCookieFor(server.deps, admin, 600_000);
    browser = await launchChromium();
    ({ context, page, problems } = await signedInPage(browser, server.url, cookie, { permissions: ["clipboard-read", "clipboard-write"] }));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("a collision is shown as soon as both tools are ticked, and an alias clears it", async () => {
    await page.goto(`${server.url}/admin/agents/new`);
    await page.fill("#a-slug", "pair");
    await page.check('input[aria-label="Select alpha/echo"]');
    await page.check('input[aria-label="Select beta/echo"]');
    const warning = page.locator("#check-outcome .alert.error");
    await warning.waitFor();
    expect(await warning.textContent()).toContain('alpha/echo and beta/echo would both be exposed as "echo": give one an alias, or set prefix_tools = true');
    // The search box narrows the rows without touching the selection.
    await page.fill("input.tool-search", "add two");
    expect(await page.isVisible('input[aria-label="Select alpha/add"]')).toBe(true);
    expect(await page.isVisible('input[aria-label="Select alpha/echo"]')).toBe(false);
    await page.fill("input.tool-search", "");
    await page.fill('input[aria-label="Alias of beta/echo"]', "echo_beta");
    await page.locator("#check-outcome .alert.ok").waitFor();
    expect(await page.textContent("#check-outcome")).toContain("echo_beta");
    await Promise.all([page.waitForURL(/\/admin\/agents\/agent_[0-9a-f-]{36}\?created=1$/), page.click("text=Create agent")]);
    expect(await page.locator("main h1").textContent()).toBe("pair");
  });

  test("a client configuration is copied to the clipboard", async () => {
    const button = page.locator('button[data-copy="#client-cursor"]');
    await button.click();
    // The label changes once the (asynchronous) clipboard write has succeeded: wait for it, then check it.
    await page.waitForFunction(() => document.querySelector('button[data-copy="#client-cursor"]')?.textContent === "Copied", undefined, { timeout: 5000 }).catch(() => {});
    expect(await button.textContent()).toBe("Copied");
    const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as { mcpServers: Record<string, { url: string }> };
    expect(copied.mcpServers.pair!.url).toBe(page.url().replace("/admin/agents/", "/mcp/agent/").replace("?created=1", ""));
  });

  test("Try it calls the aliased tool on its upstream and shows the result in place", async () => {
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    await page.click("summary:has-text('echo_beta')");
    const form = page.locator("details[open] form");
    await form.locator("textarea").fill('{"text": "hello from the browser"}');
    await form.locator("button").click();
    await page.locator("details[open] .try-outcome").waitFor();
    expect(await page.textContent("details[open] .try-outcome")).toContain("hello from the browser");
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
    expect(problems).toEqual([]);
  });
});
