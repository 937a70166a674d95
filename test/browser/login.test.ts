// The admin in a real browser (Chromium through playwright-core) against a real server: first-admin
// setup from the one-time link, sign-out, a failed and a good sign-in through htmx, adding a user.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, launchChromium, watchForProblems } from "../support/browser.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);

if (!haveChromium && !process.env.CI) {
  console.warn(`skipping browser tests: ${CHROMIUM_MISSING}`);
}

const ADMIN = "first.admin@example.com";
const ADMIN_PASSWORD = "browser-test-password";
const MEMBER = "teammate@example.com";

describe.skipIf(!haveChromium)("admin in a browser", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  /** Console errors, uncaught exceptions (a CSP violation shows up here too) and unexpected error responses. */
  let problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    // A wrong password's 401 on the sign-in form is the answer this test expects.
    problems = watchForProblems(page, { minStatus: 400, allow: (status, path) => path === "/admin/login" && status === 401 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  /** Marks the current document, so a test can tell an htmx swap from a page load. */
  const markDocument = () => page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
  const isSameDocument = () => page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);

  test("the one-time setup link creates the first admin and signs them in", async () => {
    expect(server.setupUrl).not.toBeNull();
    await page.goto(server.setupUrl!);
    expect(await page.locator("h1").textContent()).toBe("Welcome to Switchboard");
    await page.fill("#email", ADMIN);
    await page.fill("#password", ADMIN_PASSWORD);
    await page.fill("#confirm", ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(`${server.url}/admin`), page.click("button[type=submit]")]);
    expect(await page.locator("main h1").textContent()).toBe("Dashboard");
    expect(await page.locator(".who").textContent()).toContain(ADMIN);
  });

  test("signing out returns to the sign-in page", async () => {
    await Promise.all([page.waitForURL(`${server.url}/admin/login?signed_out=1`), page.click("text=Sign out")]);
    expect(await page.locator("h1").textContent()).toBe("Sign in to Switchboard");
    // The session is gone: the dashboard sends us back to sign in.
    await page.goto(`${server.url}/admin`);
    expect(page.url()).toBe(`${server.url}/admin/login?next=%2Fadmin`);
  });

  test("a wrong password shows the message in place, without reloading the page", async () => {
    await markDocument();
    await page.fill("#email", ADMIN);
    await page.fill("#password", "not-the-password");
    await page.click("button[type=submit]");
    const alert = page.locator("#form-message [role=alert]");
    await alert.waitFor();
    expect(await alert.textContent()).toBe("Wrong email or password.");
    expect(await isSameDocument()).toBe(true);
    expect(page.url()).toBe(`${server.url}/admin/login?next=%2Fadmin`);
    // The form is still there, with the email kept.
    expect(await page.inputValue("#email")).toBe(ADMIN);
  });

  test("the right password leads to the dashboard", async () => {
    await page.fill("#password", ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(`${server.url}/admin`), page.click("button[type=submit]")]);
    expect(await page.locator("main h1").textContent()).toBe("Dashboard");
  });

  test("an admin adds a member on the Users page and sees them in the table", async () => {
    await Promise.all([page.waitForURL(`${server.url}/admin/users`), page.click("nav >> text=Users")]);
    expect(await page.locator("main h1").textContent()).toBe("Users");
    await markDocument();
    // Adding with a password is the secondary path, folded under the invite form.
    await page.click("summary:has-text('Add a user with a password')");
    await page.fill("#new-email", MEMBER);
    await page.selectOption("#new-role", "member");
    await page.fill("#new-password", "teammate-password");
    await page.click("text=Add user");
    const row = page.locator("#users-section tr", { hasText: MEMBER });
    await row.waitFor();
    expect(await row.locator(`select[aria-label="Role of ${MEMBER}"]`).inputValue()).toBe("member");
    expect(await page.locator("#users-add-message").textContent()).toBe(`Added ${MEMBER}.`);
    expect(await isSameDocument()).toBe(true);
    // It is in the database, not only on the page.
    const users = server.server.deps.sqlite!.query("SELECT email, role FROM users ORDER BY email").all();
    expect(users).toEqual([
      { email: ADMIN, role: "admin" },
      { email: MEMBER, role: "member" },
    ]);
  });

  test("nothing was blocked by the Content-Security-Policy and no script failed", () => {
    expect(problems).toEqual([]);
  });
});

// Without Chromium on CI, fail loudly rather than pass by skipping.
if (!haveChromium && process.env.CI) {
  test("chromium is installed for the browser tests", () => {
    throw new Error(CHROMIUM_MISSING);
  });
}
