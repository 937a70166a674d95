// The Connections pages in a real browser (Chromium through playwright-core) against a real server and a
// stdio fixture that takes two seconds to start: a new connection's page says it was created and comes to
// show "connected" and its tools without a reload; Test and "Test these settings" are busy while they run
// (disabled, "Testing…", a second click sends nothing) and answer right under the button, in view, the
// last answer replacing the one before; stderr's long lines stay inside their panel.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage } from "../support/browser.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(60_000);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
// One long unbroken stderr line, as servers print (a path, a token-free JSON blob): it must wrap, not widen the page.
const LONG_LINE = `starting:${"x".repeat(400)}`;
/** The fixture behind a shell that waits two seconds first: a test, a connect and a discovery each take that long. */
const SLOW_ARGS = ["-c", `sleep 2; echo ${LONG_LINE} >&2; exec "$0" "$1"`, process.execPath, FIXTURE];

describe.skipIf(!haveChromium)("connections in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];
  let connectionUrl = "";
  /** The test requests the page sent (POSTs to …/test), in order. */
  const tests: string[] = [];

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    const admin = await insertUser(server.deps, "admin");
    const cookie = await sessionCookieFor(server.deps, admin, 600_000);
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, cookie));
    page.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname.endsWith("/test")) tests.push(request.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  /** Fills the new-connection form (or the edit form) for a stdio command. */
  async function fillStdio(slug: string | null, args: string[]): Promise<void> {
    if (slug !== null) await page.fill("#c-slug", slug);
    await page.selectOption("#c-transport", "stdio");
    await page.fill("#c-command", "/bin/sh");
    await page.fill("#c-args", args.join("\n"));
  }

  test("an empty list explains connections and links to New connection", async () => {
    await page.goto(`${server.url}/admin/connections`);
    expect(await page.textContent("#no-connections")).toContain("A connection is an MCP server");
    await Promise.all([page.waitForURL(/\/admin\/connections\/new$/), page.click("#no-connections a.button")]);
  });

  test("a created connection says so, then shows connected and its tools without a reload", async () => {
    await fillStdio("slowpoke", SLOW_ARGS);
    await Promise.all([page.waitForURL(/\/admin\/connections\/conn_[0-9a-f-]{36}\?created=1$/), page.click("text=Create connection")]);
    connectionUrl = page.url().replace(/\?created=1$/, "");
    expect(await page.textContent("main .alert.ok")).toBe("Connection slowpoke created.");
    // The upstream needs two seconds: the page opens while it connects, and says so.
    expect(await page.locator("#connection-state .live-status[data-settling]").count()).toBe(1);
    expect(await page.textContent("#discovery")).toContain("Not discovered yet");
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    await page.locator("#connection-state .badge.state-connected").waitFor({ timeout: 20_000 });
    await page.locator("#discovery h3", { hasText: /^Tools \((1[0-9]|[2-9][0-9])\)$/ }).waitFor({ timeout: 20_000 });
    expect(await page.textContent("#discovery")).toContain("Echo the text back");
    // Settled: the status no longer polls, and this is the same page (no reload, no navigation).
    await page.waitForFunction(() => document.querySelector("#connection-state [hx-trigger]") === null);
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
    expect(page.url()).toBe(`${connectionUrl}?created=1`);
  });

  test("Test is busy while it runs, a second click sends nothing, and the result shows under the button", async () => {
    const button = page.locator(".connection-head form button");
    const before = tests.length;
    await button.click();
    await page.waitForFunction(() => {
      const b = document.querySelector(".connection-head form button");
      return b instanceof HTMLButtonElement && b.disabled && (b.textContent ?? "").includes("Testing…");
    });
    expect(await page.getAttribute(".connection-head form", "aria-busy")).toBe("true");
    const box = (await button.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.locator("#test-result .test-outcome.ok").waitFor({ timeout: 20_000 });
    expect(await page.textContent("#test-result")).toContain("Connected in");
    expect(await inViewport(page, "#test-result .test-outcome")).toBe(true);
    expect(await button.textContent()).toBe("Test");
    expect(await button.isDisabled()).toBe(false);
    expect(tests.length - before).toBe(1);
    // A double click is one request too: the first click disables the button before the second lands.
    await button.dblclick();
    await page.waitForFunction(() => !(document.querySelector(".connection-head form button") as HTMLButtonElement).disabled, undefined, { timeout: 20_000 });
    expect(tests.length - before).toBe(2);
  });

  test("Test these settings, far down the page: busy, answered in view right under it, and a pass replaces a failure", async () => {
    // Located by what does not change while it is busy (its text does).
    const testButton = page.locator('form.connection-form button[data-busy-label="Testing…"]');
    const save = page.locator('form.connection-form button[data-busy-label="Saving…"]');
    // A failing command first.
    await page.fill("#c-args", "-c\nexit 3");
    await testButton.scrollIntoViewIfNeeded();
    const scrolled = await page.evaluate(() => window.scrollY);
    expect(scrolled).toBeGreaterThan(800);
    await testButton.click();
    await page.locator("#settings-result .test-outcome.error").waitFor({ timeout: 20_000 });
    expect(await inViewport(page, "#settings-result .test-outcome")).toBe(true);
    // Then the working one, which takes two seconds: busy meanwhile, Save included.
    const before = tests.length;
    await page.fill("#c-args", SLOW_ARGS.join("\n"));
    await testButton.click();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll("form.connection-form button")].find((e) => e.getAttribute("data-busy-label") === "Testing…");
      return b instanceof HTMLButtonElement && b.disabled && b.textContent === "Testing…";
    });
    expect(await save.isDisabled()).toBe(true);
    expect(await save.textContent()).toBe("Save");
    const box = (await testButton.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.locator("#settings-result .test-outcome.ok").waitFor({ timeout: 20_000 });
    expect(tests.length - before).toBe(1);
    expect(await inViewport(page, "#settings-result .test-outcome.ok")).toBe(true);
    // Only the latest answer: the red one is gone, nothing else is in the box.
    expect(await page.locator("#settings-result .alert").count()).toBe(1);
    expect(await page.locator("#settings-result .error").count()).toBe(0);
    expect((await testButton.textContent())?.trim()).toBe("Test these settings");
    expect(await save.isDisabled()).toBe(false);
    // The top's result box was not touched by the form's test.
    expect(await page.locator("#test-result .test-outcome").count()).toBe(1);
  });

  test("Save is busy as it posts, and the saved connection's page settles by itself again", async () => {
    await page.fill("#c-title", "Slow poke");
    const save = page.locator("form.connection-form button", { hasText: "Save" });
    await Promise.all([page.waitForURL(/\?saved=1$/), save.click()]);
    expect(await page.textContent("main .alert.ok")).toBe("Saved.");
    expect(await page.textContent("main h1")).toBe("Slow poke");
    await page.locator("#connection-state .badge.state-connected").waitFor({ timeout: 20_000 });
    await page.locator("#discovery h3", { hasText: /^Tools \([1-9][0-9]*\)$/ }).waitFor({ timeout: 20_000 });
  });

  test("Refresh is busy while it runs and answers in place", async () => {
    const refresh = page.locator("#discovery form button");
    const seen: string[] = [];
    await page.exposeFunction("__sawRefresh", (text: string) => seen.push(text));
    await page.evaluate(() => {
      document.addEventListener("htmx:before:request", () => setTimeout(() => {
        const b = document.querySelector("#discovery form button") as HTMLButtonElement | null;
        if (b) void (window as unknown as { __sawRefresh: (t: string) => void }).__sawRefresh(`${b.disabled}:${b.textContent}`);
      }, 0));
    });
    await refresh.click();
    await page.locator("#discovery form button", { hasText: /^Refresh$/ }).waitFor();
    expect(await page.textContent("#discovery")).toContain("Echo the text back");
    // Seen while the request ran (a refresh of a connected upstream can be quicker than any poll).
    expect(seen[0]).toBe("true:Refreshing…");
  });

  test("stderr's long lines and the long command stay inside their panels, at 390 and 1280 px", async () => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(connectionUrl);
      await page.locator("#stderr").waitFor();
      expect(await page.textContent("#stderr")).toContain(LONG_LINE);
      const inside = await page.evaluate(() => {
        const within = (sel: string) => {
          const el = document.querySelector(sel)!;
          const panel = el.closest(".panel")!.getBoundingClientRect();
          return el.getBoundingClientRect().right <= panel.right + 0.5;
        };
        return { stderr: within("#stderr"), settings: within("dl.connection-settings") };
      });
      expect(inside).toEqual({ stderr: true, settings: true });
      // The page frame (the sidebar at 390 px) is the frame's part; at 1280 nothing may overflow.
      if (width === 1280) expect(await horizontalOverflow(page)).toBe(0);
    }
    expect(problems).toEqual([]);
  });
});
