// Headless Chromium for the browser tests: where it is, the flags every test launches it with, what a
// page must never show (watchForProblems), and a page signed in to the admin.
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);
export const CHROMIUM_MISSING = `Chromium is not installed at ${CHROMIUM}; install it with \`apt-get install chromium\` (Debian/Ubuntu).`;

/** Launches headless Chromium with the flags every browser test uses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
}

/**
 * What a page saw that should never happen: a script error, a page error, and an answer at or above
 * `minStatus` (from `origin` only, when given; the favicon's 404 and what `allow` accepts aside).
 */
export function watchForProblems(page: Page, options: { minStatus: number; origin?: string; allow?: (status: number, path: string) => boolean }): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    // Failed loads are checked through their responses below, where the URL is known.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (options.origin !== undefined && url.origin !== options.origin) return;
    if (response.status() < options.minStatus || url.pathname === "/favicon.ico" || options.allow?.(response.status(), url.pathname)) return;
    problems.push(`${response.status()} ${url.pathname}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  return problems;
}

/**
 * A page signed in to the admin at `origin` with a session `cookie` ("sb_session=…"), which records any
 * failed load (≥ 400), script error or page error in `problems`.
 */
export async function signedInPage(
  browser: Browser,
  origin: string,
  cookie: string,
  options: { permissions?: string[] } = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  if (options.permissions) await context.grantPermissions(options.permissions, { origin });
  const [name, ...value] = cookie.split("=");
  await context.addCookies([{ name: name!, value: value.join("="), url: origin }]);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page, problems: watchForProblems(page, { minStatus: 400 }) };
}

/** How many CSS pixels the page is wider than its viewport (0 when nothing overflows sideways). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - document.documentElement.clientWidth);
}

/** Whether the element `selector` names is at least partly inside the viewport now (false when absent or hidden). */
export function inViewport(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) return false;
    return box.bottom > 0 && box.right > 0 && box.top < window.innerHeight && box.left < window.innerWidth;
  }, selector);
}
