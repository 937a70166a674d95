// What a person sees on the agent pages in Chromium: Create and Save are busy (disabled, labelled, no
// double submit) while they run and the live check never is; a created agent's page says so in view;
// an agent with no tools warns instead of showing green; the Keys section lists everyone's keys to an
// admin and only a member's own to a member.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Browser, type Page, type Route } from "playwright-core";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { RunningServer } from "../../src/server.ts";
import type { User } from "../../src/domain/access/users.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage } from "../support/browser.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));

/** Holds the requests `route` matches until released, saying when the first one arrives. */
function hold(): { handler: (route: Route) => Promise<void>; arrived: Promise<void>; release: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    arrived,
    release,
    handler: async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      arrive();
      await released;
      await route.continue();
    },
  };
}

type BusySnapshot = { busy: boolean; disabled: boolean[]; labels: string[] };

/**
 * The editor form's state the moment it turns busy, reported by the page itself: while a navigation is
 * held, playwright cannot evaluate in the page, but the page's console still reaches the test.
 */
async function busySnapshot(page: Page): Promise<{ seen: Promise<BusySnapshot> }> {
  const seen = new Promise<BusySnapshot>((resolve) => {
    page.on("console", (message) => {
      if (message.text().startsWith("sb-busy:")) resolve(JSON.parse(message.text().slice("sb-busy:".length)) as BusySnapshot);
    });
  });
  await page.evaluate(() => {
    const form = document.querySelector("#agent-form")!;
    new MutationObserver(() => {
      if (form.getAttribute("aria-busy") !== "true") return;
      const buttons = [...form.querySelectorAll<HTMLButtonElement>(".editor-footer button")];
      console.log(`sb-busy:${JSON.stringify({ busy: form.classList.contains("busy"), disabled: buttons.map((b) => b.disabled), labels: buttons.map((b) => b.textContent) })}`);
    }).observe(form, { attributes: true, attributeFilter: ["aria-busy"] });
  });
  // Wrapped: an async function returning the promise itself would wait for it.
  return { seen };
}

const isBusy = (page: Page) => page.evaluate(() => document.querySelector("#agent-form")?.getAttribute("aria-busy") === "true");

describe.skipIf(!haveChromium)("agent pages in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let admin: User;
  let member: User;
  let page: Page;
  let problems: string[] = [];
  let agentUrl = "";

  beforeAll(async () => {
    running = await startTestServer({ overrides: { connections: [{ slug: "alpha", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "alpha" } }] } });
    server = running.server;
    await server.deps.gateway.refresh(configConnectionId("alpha"));
    admin = await insertUser(server.deps, "admin", "boss@example.com");
    member = await insertUser(server.deps, "member", "dana@example.com");
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, admin, 600_000)));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("Create agent is disabled and says Creating… while it runs; the new agent's page says it was created, in view", async () => {
    await page.goto(`${server.url}/admin/agents/new`);
    await page.fill("#a-slug", "helper");
    await page.fill("#a-title", "Help desk");
    await page.check('input[aria-label="Select alpha/echo"]');
    await page.locator("#check-outcome .alert.ok").waitFor();
    const held = hold();
    await page.route(`${server.url}/admin/agents`, held.handler);
    const snapshot = await busySnapshot(page);
    // The click waits for the navigation it starts, which is held: it is awaited once released.
    const clicked = page.click("text=Create agent");
    await held.arrived;
    // Both buttons disabled (no second submission), the clicked one saying what is happening.
    expect(await snapshot.seen).toEqual({ busy: true, disabled: [true, true], labels: ["Creating…", "Check names"] });
    held.release();
    await clicked;
    await page.waitForURL(/\/admin\/agents\/agent_[0-9a-f-]{36}\?created=1$/);
    await page.unroute(`${server.url}/admin/agents`);
    agentUrl = page.url().replace("?created=1", "");
    const notice = page.locator("main .alert.ok[role=status]");
    expect(await notice.textContent()).toBe("Agent Help desk created.");
    expect(await inViewport(page, "main .alert.ok[role=status]")).toBe(true);
    expect(await page.locator("#agent-no-tools").count()).toBe(0);
    expect(await page.locator("main .badge.state-connected").textContent()).toBe("enabled");
  });

  test("the live check never makes the form busy; Save does, and says Saved. afterwards", async () => {
    await page.goto(`${agentUrl}/edit`);
    const check = hold();
    await page.route(`${server.url}/admin/agents/check`, check.handler);
    await page.fill("#a-description", "Answers the team");
    await check.arrived;
    // The check is on its way (held here): the buttons stay usable and the form is not busy.
    expect(await isBusy(page)).toBe(false);
    expect(await page.locator("#agent-form button", { hasText: "Save" }).isDisabled()).toBe(false);
    check.release();
    await page.locator("#check-outcome .alert.ok").waitFor();
    await page.unroute(`${server.url}/admin/agents/check`);
    const save = hold();
    const saveUrl = agentUrl.replace(server.url, "");
    await page.route((url) => url.pathname === saveUrl, save.handler);
    const snapshot = await busySnapshot(page);
    const clicked = page.click("#agent-form button:text-is('Save')");
    await save.arrived;
    expect(await snapshot.seen).toEqual({ busy: true, disabled: [true, true], labels: ["Saving…", "Check names"] });
    save.release();
    await clicked;
    await page.waitForURL(/\?saved=1$/);
    await page.unroute((url) => url.pathname === saveUrl);
    expect(await page.locator("main .alert.ok[role=status]").textContent()).toBe("Saved.");
    expect(await page.locator("main").textContent()).toContain("Answers the team");
  });

  test("Check names answers in place beside the buttons (busy while it runs, no page load)", async () => {
    await page.goto(`${agentUrl}/edit`);
    await page.locator("#check-outcome .alert.ok").waitFor();
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    await page.evaluate(() => document.querySelector("#agent-check")!.replaceChildren());
    const held = hold();
    await page.route(`${server.url}/admin/agents/check`, held.handler);
    const snapshot = await busySnapshot(page);
    await page.click("#agent-form button:text-is('Check names')");
    await held.arrived;
    // Busy, the clicked button saying what runs (its own data-busy-label): "Saving…" would be untrue here.
    expect(await snapshot.seen).toEqual({ busy: true, disabled: [true, true], labels: ["Save", "Checking…"] });
    held.release();
    await page.locator("#check-outcome .alert.ok").waitFor();
    await page.unroute(`${server.url}/admin/agents/check`);
    expect(await page.textContent("#check-outcome")).toContain("No collisions. It would expose 1 tool: echo");
    expect(await inViewport(page, "#check-outcome")).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
    await page.waitForFunction(() => document.querySelector("#agent-form")?.getAttribute("aria-busy") === null);
    expect(await page.locator("#agent-form button:text-is('Save')").isDisabled()).toBe(false);
  });

  test("an agent with no tools shows a warning, not a green check, in the list and on its page", async () => {
    await page.goto(`${server.url}/admin/agents/new`);
    await page.fill("#a-slug", "empty");
    await Promise.all([page.waitForURL(/\?created=1$/), page.click("text=Create agent")]);
    const warning = page.locator("#agent-no-tools");
    expect(await warning.isVisible()).toBe(true);
    expect(await inViewport(page, "#agent-no-tools")).toBe(true);
    expect(await warning.textContent()).toContain("Clients will see no tools.");
    expect(await warning.locator("a", { hasText: "edit the agent" }).getAttribute("href")).toMatch(/\/admin\/agents\/agent_[0-9a-f-]{36}\/edit$/);
    expect(await page.locator("main .badge.state-connected").count()).toBe(0);
    expect(await page.locator("main .badge.state-warning").textContent()).toBe("enabled, no tools");
    await page.goto(`${server.url}/admin/agents`);
    const row = page.locator("tr", { hasText: "empty" });
    expect(await row.locator(".badge.state-warning").isVisible()).toBe(true);
    expect(await row.locator(".badge.state-connected").count()).toBe(0);
    expect(await row.textContent()).toContain("Clients will see no tools");
    expect(await page.locator("tr", { hasText: "Help desk" }).locator(".badge.state-connected").isVisible()).toBe(true);
  });

  test("the Keys section: an admin sees everyone's keys that reach the agent, a member only their own", async () => {
    const agentId = agentUrl.slice(agentUrl.lastIndexOf("/") + 1);
    await mintKey(server.deps, admin, { [agentId]: ["*"] }, { name: "ops bot" });
    await mintKey(server.deps, member, { [agentId]: ["echo"] }, { name: "dana script" });
    await mintKey(server.deps, admin, { self: ["*"] }, { name: "management only" });
    await page.goto(agentUrl);
    const keys = page.locator("#agent-keys");
    expect(await keys.locator("h2").textContent()).toBe("Keys (2)");
    expect(await keys.locator("tbody tr").count()).toBe(2);
    const ops = keys.locator("tr", { hasText: "ops bot" });
    expect(await ops.locator("a").getAttribute("href")).toMatch(/^\/admin\/keys\/key_[0-9a-f-]{36}$/);
    expect(await ops.textContent()).toContain("boss@example.com");
    expect(await keys.locator("tr", { hasText: "dana script" }).textContent()).toContain("dana@example.com");
    expect(await keys.textContent()).not.toContain("management only");
    expect(await keys.locator("a", { hasText: "Create a key for this agent" }).getAttribute("href")).toBe(`/admin/keys?grant=${agentId}#create-key`);
    // The page with its keys table fits a 1280 px window (the narrower widths are the frame's to test once merged).
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(await horizontalOverflow(page)).toBe(0);

    const forMember = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, member, 600_000));
    await forMember.page.goto(agentUrl);
    const theirs = forMember.page.locator("#agent-keys");
    expect(await theirs.locator("h2").textContent()).toBe("Keys (1)");
    expect(await theirs.textContent()).toContain("dana script");
    expect(await theirs.textContent()).not.toContain("ops bot");
    expect(await theirs.textContent()).not.toContain("boss@example.com");
    await forMember.context.close();
    expect(forMember.problems).toEqual([]);
    expect(problems).toEqual([]);
  });
});
