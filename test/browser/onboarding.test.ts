// The first run in a real browser (Chromium through playwright-core) against a real server: a fresh
// install's first admin sees 0 of 4 with links; following each link and doing the step (a stdio
// connection to the fixture upstream, an agent with its tool, a key, one MCP call with that key) ticks
// it on the next load; the page left open ticks the last step by itself, and the checklist is gone. A member sees only their own two steps.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage } from "../support/browser.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A step may wait for an upstream to connect or a batch of last-used times to be written (every 5 s).
setDefaultTimeout(60_000);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));

/** Reloads the dashboard until `step` is done (what it shows is written by batches off the request path). */
async function untilDone(page: Page, origin: string, step: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(`${origin}/admin`);
    const item = page.locator(`li[data-step="${step}"]`);
    if ((await item.count()) === 0 || (await item.getAttribute("data-done")) === "true") return;
    if (Date.now() > deadline) throw new Error(`the "${step}" step was not ticked within ${timeoutMs} ms`);
    // Between reloads only: the condition is checked on each fresh page, never after a fixed wait.
    await page.waitForTimeout(250);
  }
}

/** The dashboard's own panels whose content is wider than they are, by what they hold. */
function ownOverflow(page: Page): Promise<string[]> {
  return page.$$eval("#getting-started, #getting-started li, [data-empty], ul.agent-health", (els) =>
    els.filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.id || el.getAttribute("data-empty") || el.getAttribute("data-step") || el.className),
  );
}

/**
 * How far the page overflows sideways, and which of the dashboard's own panels overflow inside, at
 * 390, 768 and 1280 px. The frame (sidebar, top bar) is another part, tested with every page: it is set
 * aside here, as a narrow frame leaves the content the whole width, so what is measured is the content.
 */
async function contentOverflow(page: Page): Promise<Record<number, [number, string[]]>> {
  await page.addStyleTag({ content: ".shell { display: block; } .sidebar { display: none; }" });
  const out: Record<number, [number, string[]]> = {};
  for (const width of [390, 768, 1280]) {
    await page.setViewportSize({ width, height: 844 });
    out[width] = [await horizontalOverflow(page), await ownOverflow(page)];
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  return out;
}

/** Whether each step is done, as the page shows it. */
function states(page: Page): Promise<Record<string, boolean>> {
  return page.$$eval("li[data-step]", (items) => Object.fromEntries(items.map((li) => [li.getAttribute("data-step"), li.getAttribute("data-done") === "true"])));
}

describe.skipIf(!haveChromium)("the first run in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[] = [];
  let agentId = "";
  let token = "";

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    const admin = await insertUser(server.deps, "admin");
    browser = await launchChromium();
    ({ context, page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, admin, 600_000)));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("a fresh install: 0 of 4, every step linked, the content no wider than a phone", async () => {
    await page.goto(`${server.url}/admin`);
    expect(await page.getAttribute("[data-progress]", "data-progress")).toBe("0/4");
    expect(await states(page)).toEqual({ connection: false, agent: false, key: false, client: false });
    expect(await page.getAttribute('li[data-step="connection"] a.step-action', "href")).toBe("/admin/connections/new");
    expect(await page.getAttribute('li[data-step="agent"] a.step-action', "href")).toBe("/admin/agents/new");
    // A step's state is in words too, for screen readers.
    expect(await page.textContent('li[data-step="connection"]')).toContain("(to do)");
    expect(await page.isVisible('[data-empty="connections"] a[href="/admin/connections/new"]')).toBe(true);
    expect(await contentOverflow(page)).toEqual({ 390: [0, []], 768: [0, []], 1280: [0, []] });
  });

  test("adding a connection from the checklist's link ticks the first step", async () => {
    await Promise.all([page.waitForURL(/\/admin\/connections\/new$/), page.click('li[data-step="connection"] a.step-action')]);
    await page.fill('input[name="slug"]', "alpha");
    await page.selectOption('select[name="transport"]', "stdio");
    await page.fill('input[name="command"]', process.execPath);
    await page.fill('textarea[name="args"]', FIXTURE);
    await Promise.all([page.waitForURL(/\/admin\/connections\/conn_[0-9a-f-]{36}/), page.click("form.connection-form button[type=submit]:not([formaction])")]);
    await untilDone(page, server.url, "connection");
    expect(await states(page)).toEqual({ connection: true, agent: false, key: false, client: false });
    expect(await page.getAttribute("[data-progress]", "data-progress")).toBe("1/4");
    expect(await page.textContent('li[data-step="connection"]')).toContain("(done)");
    expect(await page.textContent('li[data-step="connection"]')).toContain('"alpha" is connected');
    expect(await page.locator('li[data-step="connection"] a.step-action').count()).toBe(0);
  });

  test("building an agent with a tool ticks the second step", async () => {
    await Promise.all([page.waitForURL(/\/admin\/agents\/new$/), page.click('li[data-step="agent"] a.step-action')]);
    await page.fill("#a-slug", "demo");
    await page.check('input[aria-label="Select alpha/echo"]');
    await Promise.all([page.waitForURL(/\/admin\/agents\/agent_[0-9a-f-]{36}/), page.click("text=Create agent")]);
    agentId = /agent_[0-9a-f-]{36}/.exec(page.url())![0];
    await untilDone(page, server.url, "agent");
    expect(await states(page)).toEqual({ connection: true, agent: true, key: false, client: false });
    expect(await page.getAttribute('li[data-step="key"] a.step-action', "href")).toBe(`/admin/keys?grant=${agentId}#create-key`);
    expect(await page.getAttribute('li[data-step="client"] a.step-action', "href")).toBe(`/admin/agents/${agentId}#client-configs`);
    expect(await page.locator(`[data-agent="${agentId}"][data-health="ok"]`).count()).toBe(1);
  });

  test("creating a key for the agent from the checklist's link ticks the third step", async () => {
    await Promise.all([page.waitForURL(/\/admin\/keys\?grant=/), page.click('li[data-step="key"] a.step-action')]);
    await page.fill('#create-key input[name="name"]', "my laptop");
    await page.click('#create-key button[type="submit"]');
    // The token is shown once: read it from the page, wherever the dialog puts it.
    await page.waitForFunction(() => /mcp_key_[0-9A-Za-z]{49}/.test(document.body.innerText));
    token = /mcp_key_[0-9A-Za-z]{49}/.exec(await page.evaluate(() => document.body.innerText))![0];
    await untilDone(page, server.url, "key");
    expect(await states(page)).toEqual({ connection: true, agent: true, key: true, client: false });
  });

  test("one MCP call with that key through the agent ticks the last step on the open page, and the checklist is gone", async () => {
    // The last step's link opens the agent's client configurations, in view.
    await Promise.all([page.waitForURL(new RegExp(`/admin/agents/${agentId}#client-configs$`)), page.click('li[data-step="client"] a.step-action')]);
    expect(await inViewport(page, "#client-configs")).toBe(true);
    await page.goto(`${server.url}/admin`);
    expect(await page.getAttribute("[data-progress]", "data-progress")).toBe("3/4");
    const client = new Client({ name: "onboarding-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/agent/${agentId}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const result = await client.callTool({ name: "echo", arguments: { text: "hello" } });
    expect(JSON.stringify(result.content)).toContain("hello");
    await client.close();
    // The page left open asks every 5 s and swaps in the news by itself, in its live region.
    await page.locator("#getting-started-live #getting-started-done").waitFor({ timeout: 30_000 });
    expect(await page.textContent("#getting-started-done")).toContain("You're set up");
    expect(await page.locator("#getting-started").count()).toBe(0);
    await page.goto(`${server.url}/admin`);
    expect(await page.locator("#getting-started, #getting-started-done").count()).toBe(0);
    expect(await page.getAttribute("[data-status]", "data-status")).toBe("healthy");
    // With usage to chart and an agent listed, the content still fits a phone.
    expect(await page.locator('[data-figure="calls"]').textContent()).not.toBe("0");
    expect(await contentOverflow(page)).toEqual({ 390: [0, []], 768: [0, []], 1280: [0, []] });
    expect(problems).toEqual([]);
  });

  test("a member sees only their own two steps, with no admin action", async () => {
    const member = await insertUser(server.deps, "member");
    const { context: memberContext, page: memberPage, problems: memberProblems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, member, 600_000));
    try {
      await memberPage.goto(`${server.url}/admin`);
      // The admin's key and call are not the member's.
      expect(await states(memberPage)).toEqual({ key: false, client: false });
      expect(await memberPage.getAttribute("[data-progress]", "data-progress")).toBe("0/2");
      expect(await memberPage.locator('a[href="/admin/connections/new"], a[href="/admin/agents/new"]').count()).toBe(0);
      expect(await memberPage.getAttribute('li[data-step="key"] a.step-action', "href")).toBe(`/admin/keys?grant=${agentId}#create-key`);
      expect(memberProblems).toEqual([]);
    } finally {
      await memberContext.close();
    }
  });
});
