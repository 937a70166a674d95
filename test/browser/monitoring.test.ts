// The Monitoring page in a real browser (Chromium through playwright-core) against a real server: the
// charts are drawn, a filter swaps the results and the URL without reloading the page, a row opens its
// detail, the refresh pauses while the tab is hidden, and nothing logs an error or breaks the CSP.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type Browser, type Page } from "playwright-core";
import type { UsageRecord } from "../../src/domain/monitoring/types.ts";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, launchChromium, signedInPage } from "../support/browser.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);


describe.skipIf(!haveChromium)("the Monitoring page in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];
  /** Requests the page made for the results (the filters' and the refresh's). */
  const resultRequests: string[] = [];

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    const admin = await insertUser(server.deps, "admin");
    const base = (name: string, outcome: UsageRecord["outcome"], minutesAgo: number): UsageRecord => ({
      at: new Date(Date.now() - minutesAgo * 60_000),
      durationMs: 20 + minutesAgo,
      face: "mcp",
      target: { kind: "connection", id: null, slug: "alpha" },
      method: "tools/call",
      name,
      upstreamName: name,
      connectionId: null,
      outcome,
      errorCode: outcome === "ok" ? null : "-32603",
      errorMessage: outcome === "ok" ? null : "it broke",
      actor: { userId: admin.id, credentialKind: "session", credentialId: null },
      sessionId: null,
      client: { name: "browser-test", version: "1" },
      address: "127.0.0.1",
      requestBytes: 10,
      responseBytes: 20,
      payload: null,
    });
    for (let i = 0; i < 12; i++) server.deps.usageRecorder.record(base(`fine_tool`, "ok", 5 + i * 30));
    server.deps.usageRecorder.record(base("broken_tool", "error", 15));
    await server.deps.usageRecorder.flush();

    const cookie = await sessionCookieFor(server.deps, admin, 600_000);
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, cookie));
    page.on("request", (request) => {
      if (request.headers()["hx-request"] === "true" && new URL(request.url()).pathname === "/admin/monitoring") resultRequests.push(request.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  async function watchCsp(): Promise<void> {
    await page.evaluate(() => {
      document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
  }

  test("the charts are drawn from the recorded calls", async () => {
    // MCP calls only: the page's own reads are management operations, recorded too.
    await page.goto(`${server.url}/admin/monitoring?range=24h&face=mcp`);
    await watchCsp();
    const calls = page.locator('svg[data-chart="calls"]');
    await calls.waitFor();
    expect(await calls.getAttribute("aria-label")).toContain("13 calls and 1 errors");
    expect(await page.locator('svg[data-chart="calls"] path.line.calls').count()).toBe(1);
    expect(await page.locator('svg[data-chart="latency"] path.line, svg[data-chart="latency"] circle').count()).toBeGreaterThan(0);
    expect(await page.locator("svg[data-chart=bars]").first().getAttribute("aria-label")).toContain("fine_tool 12");
    expect(await page.locator("table.log tbody tr").count()).toBe(13);
    // The drawing has a size (the stylesheet applies; the SVG is not collapsed).
    const box = await calls.boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    expect(box!.height).toBeGreaterThan(50);
  });

  test("a filter swaps the charts and the log and pushes the URL, without reloading the page", async () => {
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await Promise.all([page.waitForURL(/outcome=error/), page.selectOption("#f-outcome", "error")]);
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 1);
    expect(await page.locator("table.log tbody").textContent()).toContain("broken_tool");
    expect(await page.locator('svg[data-chart="calls"]').getAttribute("aria-label")).toContain("1 calls and 1 errors");
    expect(new URL(page.url()).searchParams.get("outcome")).toBe("error");
    expect(new URL(page.url()).searchParams.get("range")).toBe("24h");
    expect(new URL(page.url()).searchParams.get("face")).toBe("mcp");
    // Still the same document: htmx swapped the section, the browser did not navigate.
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    // The shared URL opens the same view on its own.
    const again = await page.context().newPage();
    await again.goto(page.url());
    expect(await again.locator("table.log tbody tr").count()).toBe(1);
    await again.close();
  });

  test("the refresh asks for the current view, and is skipped while the tab is hidden", async () => {
    const section = () => page.evaluate(() => document.querySelector("#monitor-results")?.getAttribute("hx-get"));
    expect(await section()).toContain("outcome=error");
    const before = resultRequests.length;
    // Fire the poll's own event by hand rather than wait 10 s: first as if hidden, then shown.
    const hidden = await page.evaluate(() => {
      // Registered after admin.js's listener, so it sees what that one decided.
      const seen: boolean[] = [];
      const watch = (e: Event) => seen.push(e.defaultPrevented);
      document.addEventListener("htmx:before:request", watch);
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      const htmx = (window as unknown as { htmx: { trigger: (e: Element, name: string, detail: object, bubbles: boolean) => void } }).htmx;
      htmx.trigger(document.querySelector("#monitor-results")!, "every", {}, false);
      // htmx reaches before:request after a few awaits: wait for it, then restore.
      return new Promise<boolean[]>((resolve) => {
        const done = () => {
          if (seen.length === 0) return void setTimeout(done, 10);
          document.removeEventListener("htmx:before:request", watch);
          Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
          resolve(seen);
        };
        done();
      });
    });
    // The hidden tab's refresh was stopped before its request went out.
    expect(hidden).toEqual([true]);
    await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/admin/monitoring" && r.request().headers()["hx-request"] === "true"),
      page.evaluate(() => {
        const htmx = (window as unknown as { htmx: { trigger: (e: Element, name: string, detail: object, bubbles: boolean) => void } }).htmx;
        htmx.trigger(document.querySelector("#monitor-results")!, "every", {}, false);
      }),
    ]);
    // Only the shown tab's refresh went out, for the same filtered view.
    expect(resultRequests.slice(before)).toHaveLength(1);
    expect(resultRequests[resultRequests.length - 1]).toContain("outcome=error");
  });

  test("a row opens its detail", async () => {
    await Promise.all([page.waitForURL(/\/admin\/monitoring\/logs\//), page.click("table.log tbody tr a")]);
    expect(await page.locator("main h1").textContent()).toBe("Recorded call");
    expect(await page.locator("dl.kv").textContent()).toContain("broken_tool");
    expect(await page.locator("dl.kv").textContent()).toContain("it broke");
  });

  test("no console errors, failed loads or CSP violations", () => {
    expect(problems).toEqual([]);
  });
});
