// "Try it" in a real browser (Chromium through playwright-core) against a real server with two stdio
// upstreams, server-everything and the hostile fixture (HOSTILE_TRY): the form built from the schema, the
// Call button busy while the call runs, the result beside the tool's form and in the viewport (the last
// tool of a long list included), one result per tool, images shown under the CSP, hostile media never
// rendered nor run, and no sideways overflow at 390 px.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Browser, type Locator, type Page } from "playwright-core";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, inViewport, launchChromium, signedInPage } from "../support/browser.ts";
import { EVERYTHING_STDIO } from "../support/everything.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(60_000);

const EVERYTHING_TOOLS = ["echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference", "get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource", "toggle-simulated-logging", "toggle-subscriber-updates"];
const HOSTILE = join(import.meta.dir, "../fixtures/hostile-upstream.ts");

/** The elements inside `selector` that reach past its right edge (tag and class), or none. */
function sticksOut(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const box = document.querySelector(sel)!;
    const right = box.getBoundingClientRect().right;
    const out = [...box.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > right + 0.5);
    return (box.scrollWidth > box.clientWidth ? [sel] : []).concat(out.map((e) => `${e.tagName.toLowerCase()}.${e.className}`));
  }, selector);
}

describe.skipIf(!haveChromium)("Try it in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    running = await startTestServer({
      overrides: {
        connections: [
          { slug: "everything", ...EVERYTHING_STDIO },
          { slug: "hostile", command: process.execPath, args: [HOSTILE], env: { HOSTILE_TRY: "1" } },
        ],
        agents: [
          // A long list, the slow tool last.
          { slug: "every", tools: { everything: [...EVERYTHING_TOOLS, "trigger-long-running-operation"] } },
          { slug: "hostile-try", tools: { hostile: "*" } },
        ],
      },
    });
    server = running.server;
    await Promise.all(["everything", "hostile"].map((slug) => server.deps.gateway.refresh(configConnectionId(slug))));
    const member = await insertUser(server.deps, "member");
    const cookie = await sessionCookieFor(server.deps, member, 600_000);
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, cookie));
    // An alert() from upstream content would mean script ran.
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  /** The <details> of one tool, opened. */
  async function openTool(name: string): Promise<Locator> {
    const tool = page.locator("details.try-tool").filter({ has: page.locator(`input[name="tool"][value="${name}"]`) });
    await tool.locator("summary").first().click();
    return tool;
  }

  test("the last tool of a long list: fields from its schema; its result lands beside its form, in view, with the duration", async () => {
    await page.goto(`${server.url}/admin/agents/${configAgentId("every")}`);
    const names = await page.locator('details.try-tool input[name="tool"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value));
    expect(names.length).toBeGreaterThanOrEqual(10);
    const last = names[names.length - 1]!;
    expect(last).toBe("trigger-long-running-operation");
    const tool = await openTool(last);
    await tool.locator("summary").first().scrollIntoViewIfNeeded();
    // Its fields, prefilled with the schema's defaults: a short call.
    const duration = tool.locator('input[name="arg.duration"]');
    expect(await duration.inputValue()).toBe("10");
    await duration.fill("2");
    await tool.locator('input[name="arg.steps"]').fill("2");
    // Schema folded.
    expect(await tool.locator("details.try-schema").getAttribute("open")).toBeNull();
    const button = tool.locator('button[type="submit"]');
    // Scrolled just far enough to see the Call button at the bottom of the window: the result, below it,
    // starts out of view.
    await button.evaluate((el) => el.scrollIntoView({ block: "end" }));
    await button.click();
    // While the call runs: the button is disabled and says so, the form is busy.
    await tool.locator('form[aria-busy="true"]').waitFor();
    expect(await button.isDisabled()).toBe(true);
    expect(await button.textContent()).toBe("Calling…");
    const outcome = tool.locator(".try-result .try-outcome");
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain("Long running operation completed");
    expect(await outcome.locator(".try-duration").textContent()).toMatch(/^ in (\d+ ms|\d+(\.\d)? s)$/);
    const id = await tool.locator(".try-result").getAttribute("id");
    expect(await inViewport(page, `#${id} .try-outcome`)).toBe(true);
    // Wholly: it is shorter than the window.
    const box = (await outcome.boundingBox())!;
    expect(box.y >= 0 && box.y + box.height <= 720).toBe(true);
    expect(await tool.locator(".try-result").getAttribute("aria-live")).toBe("polite");
    // The button is itself again.
    expect(await button.isDisabled()).toBe(false);
    expect(await button.textContent()).toBe(`Call ${last}`);
    expect(problems).toEqual([]);
  });

  test("invalid JSON and a bad field value are refused beside the form, in view; a second call replaces the first result", async () => {
    const tool = await openTool("get-sum");
    const id = await tool.locator(".try-result").getAttribute("id");
    await tool.locator('input[name="arg.a"]').fill("2");
    await tool.locator('input[name="arg.b"]').fill("40");
    await tool.locator("textarea").fill("{not json");
    await tool.locator('button[type="submit"]').click();
    await tool.locator(".try-outcome.error").waitFor();
    expect(await tool.locator(".try-outcome").textContent()).toContain("The arguments are not valid JSON.");
    expect(await inViewport(page, `#${id} .try-outcome`)).toBe(true);
    await tool.locator("textarea").fill("{}");
    await tool.locator('button[type="submit"]').click();
    await tool.locator(".try-outcome.ok").waitFor();
    expect(await tool.locator(".try-outcome").count()).toBe(1);
    expect(await tool.locator(".try-outcome").textContent()).toContain("42");
  });

  test("a required select left unset is named; an optional flag set to true brings back an image, shown", async () => {
    const tool = await openTool("get-annotated-message");
    await tool.locator('button[type="submit"]').click();
    await tool.locator(".try-outcome.error").waitFor();
    expect(await tool.locator(".try-outcome").textContent()).toContain("messageType is required.");
    await tool.locator('select[name="arg.messageType"]').selectOption("success");
    await tool.locator('select[name="arg.includeImage"]').selectOption("true");
    await tool.locator('button[type="submit"]').click();
    const image = tool.locator(".try-outcome.ok img");
    await image.waitFor();
    // Loaded under the admin's CSP (img-src data:), not a broken image.
    await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 20, `#${await tool.locator(".try-result").getAttribute("id")} img`);
    expect(problems).toEqual([]);
  });

  test("hostile media is never rendered nor run; audio plays from a data: URL under the CSP; nothing overflows at 390 px", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${server.url}/admin/agents/${configAgentId("hostile-try")}`);
    const echo = await openTool("echo_args");
    // The markup property name is a label's text, not an element.
    expect(await echo.locator("label code").first().textContent()).toBe('"><img src=x onerror=alert(1)>');
    expect(await page.locator("img").count()).toBe(0);
    const content = await openTool("hostile_content");
    await content.locator('button[type="submit"]').click();
    await content.locator(".try-outcome").waitFor();
    expect(await content.locator(".try-outcome img").count()).toBe(0);
    expect(await content.locator(".try-outcome a[href^='javascript:']").count()).toBe(0);
    const audio = content.locator(".try-outcome audio");
    expect(await audio.count()).toBe(1);
    expect(await audio.getAttribute("src")).toStartWith("data:audio/wav;base64,");
    const huge = await openTool("huge_image");
    await huge.locator('button[type="submit"]').click();
    await huge.locator(".try-outcome").waitFor();
    expect(await huge.locator(".try-outcome").textContent()).toContain("is not shown: 3.0 MB");
    await huge.locator(".try-full summary").click();
    // Long URIs, base64 and JSON wrap or scroll inside the panel. (The page as a whole at 390 px is the
    // frame's: its sidebar, checked with horizontalOverflow in the frame's tests.)
    expect(await sticksOut(page, "#try-it")).toEqual([]);
    expect(dialogs).toEqual([]);
    // No CSP refusal (the audio's data: URL), no script error.
    expect(problems).toEqual([]);
  });
});
