// The Audit page in a real browser (Chromium through playwright-core) against a real server: a filter
// swaps the table through htmx without a page load and pushes the URL; "Older" pages; a row's change opens.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type Browser, type Page } from "playwright-core";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);


describe.skipIf(!haveChromium)("the Audit page in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    const admin = await insertUser(server.deps, "admin");
    // 60 rows: more than a page (50), half of them through the CLI.
    for (let i = 0; i < 60; i++) {
      server.deps.audit.record({
        at: new Date(Date.now() - (60 - i) * 1000),
        face: i % 2 === 0 ? "api" : "cli",
        actor: i % 2 === 0 ? { userId: admin.id, credentialKind: "session", credentialId: null } : { userId: null, credentialKind: "host", credentialId: null },
        action: `ACTION_${i}`,
        targetId: null,
        address: null,
        change: { step: i, token: "********" },
        outcome: "ok",
      });
    }
    const cookie = await sessionCookieFor(server.deps, admin, 600_000);
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, cookie));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("a filter swaps the table without a reload and pushes the URL; Older pages; a change opens", async () => {
    await page.goto(`${server.url}/admin/audit`);
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    expect(await page.locator("#audit tbody tr").count()).toBe(50);

    await page.selectOption("#audit-face", "cli");
    await page.waitForURL(/face=cli/);
    await page.locator("#audit tbody tr", { hasText: "ACTION_59" }).waitFor();
    expect(await page.locator("#audit tbody tr", { hasText: "ACTION_58" }).count()).toBe(0);
    expect(await page.locator("#audit tbody tr").count()).toBe(30);
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same === true)).toBe(true);

    await page.selectOption("#audit-face", "");
    await page.locator("#audit tbody tr", { hasText: "ACTION_58" }).waitFor();
    await page.click("#audit-older");
    await page.waitForURL(/cursor=/);
    await page.locator("#audit tbody tr", { hasText: "ACTION_0" }).first().waitFor();
    expect(await page.locator("#audit tbody tr").count()).toBe(10);
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same === true)).toBe(true);

    const row = page.locator("#audit tbody tr", { hasText: "ACTION_3" }).first();
    await row.locator("summary").click();
    expect(await row.locator("pre").textContent()).toContain('"step": 3');
    expect(problems).toEqual([]);
  });
});
