// Accounts in a real browser (Chromium through playwright-core) against a real server: an admin invites
// a member (the button busy while it runs, the one-time link in view and copied), a fresh browser opens
// the link, chooses a password and lands signed in, and the link does not work twice; a user changes
// their password, and then only the new one signs in. What this part adds fits the viewport.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { CHROMIUM_MISSING, haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage, watchForProblems } from "../support/browser.ts";
import { createSignInUser, PASSWORD, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);

const ADMIN = "admin@example.com";
const INVITEE = "new.member@example.com";
const INVITEE_PASSWORD = "invitee chose this";
const CHANGED_PASSWORD = "a fresh passphrase";

describe.skipIf(!haveChromium)("accounts in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page; problems: string[] };
  let inviteLink = "";
  /** Pages of other browser contexts, with what they saw go wrong (the expected answers allowed). */
  const others: string[][] = [];

  /** A fresh browser with no cookies (someone else's machine), watched for script errors and CSP violations. */
  async function freshPage(allow: (status: number, path: string) => boolean): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    others.push(watchForProblems(page, { minStatus: 400, allow }));
    return { context, page };
  }

  beforeAll(async () => {
    running = await startTestServer();
    server = running.server;
    const user = await createSignInUser(server.deps, ADMIN, "admin");
    browser = await launchChromium();
    admin = await signedInPage(browser, server.url, await sessionCookieFor(server.deps, user, 600_000), { permissions: ["clipboard-read", "clipboard-write"] });
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  test("an admin creates an invite: the button is busy while it runs, then the link is in view and copies", async () => {
    const { page } = admin;
    await page.goto(`${server.url}/admin/users`);
    // The invite comes first; adding with a password is folded away.
    expect(await page.isVisible("#invite-email")).toBe(true);
    expect(await page.isVisible("#new-password")).toBe(false);
    await page.fill("#invite-email", INVITEE);
    await page.selectOption("#invite-role", "member");

    // Hold the request, to see the form while it runs.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/admin/users/invites", async (route) => {
      await held;
      await route.continue();
    });
    const button = page.locator("form.invite-form button[type=submit]");
    await button.click();
    await page.waitForFunction(() => document.querySelector("form.invite-form")?.getAttribute("aria-busy") === "true");
    expect(await button.isDisabled()).toBe(true);
    release();

    const link = page.locator("#invite-link");
    await link.waitFor();
    await page.unroute("**/admin/users/invites");
    inviteLink = (await link.textContent())!;
    expect(inviteLink).toStartWith(`${server.url}/admin/invite/sb_invite_`);
    expect(await inViewport(page, "#invite-issued")).toBe(true);
    expect(await page.textContent("#invite-message")).toBe(`Invite created for ${INVITEE}.`);
    expect(await page.textContent("#pending-invites")).toContain(INVITEE);

    await page.click('button[data-copy="#invite-link"]');
    await page.waitForFunction(() => document.querySelector('button[data-copy="#invite-link"]')?.textContent === "Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(inviteLink);

    // A reload shows the pending invite, never its link again.
    await page.reload();
    expect(await page.textContent("#pending-invites")).toContain(INVITEE);
    expect(await page.content()).not.toContain(inviteLink);
  });

  test("the invitee opens the link in a fresh browser, chooses a password and lands signed in as a member", async () => {
    const { context, page } = await freshPage(() => false);
    await page.goto(inviteLink);
    expect(await page.locator("h1").textContent()).toBe("Join Switchboard");
    expect(await page.inputValue("#email")).toBe(INVITEE);
    await page.fill("#password", INVITEE_PASSWORD);
    // A repeat that differs is flagged at once, and the form is not sent.
    await page.fill("#confirm", `${INVITEE_PASSWORD}?`);
    expect(await page.$eval("#confirm", (el) => (el as HTMLInputElement).validationMessage)).toBe("The two passwords differ.");
    await page.click("button[type=submit]");
    expect(page.url()).toBe(inviteLink);
    await page.fill("#confirm", INVITEE_PASSWORD);
    expect(await page.$eval("#confirm", (el) => (el as HTMLInputElement).validity.valid)).toBe(true);
    await Promise.all([page.waitForURL(`${server.url}/admin`), page.click("button[type=submit]")]);
    expect(await page.locator("main h1").textContent()).toBe("Dashboard");
    expect(await page.locator(".who").textContent()).toContain(INVITEE);
    expect(await page.locator(".who .badge").textContent()).toBe("member");
    await context.close();
  });

  test("the link does not work a second time, in any browser", async () => {
    const { context, page } = await freshPage((status, path) => status === 404 && path.startsWith("/admin/invite/"));
    const res = await page.goto(inviteLink);
    expect(res?.status()).toBe(404);
    expect(await page.locator("h1").textContent()).toBe("Invite link not valid");
    expect(await page.isVisible("#password")).toBe(false);
    await context.close();
    // And the admin's list no longer has it pending.
    await admin.page.reload();
    expect(await admin.page.isVisible("#no-invites")).toBe(true);
  });

  test("a user changes their password: a notice in view, and then only the new password signs in", async () => {
    const { page } = admin;
    await page.goto(`${server.url}/admin/users`);
    await Promise.all([page.waitForURL(`${server.url}/admin/account`), page.click(".who a.account")]);
    expect(await page.locator("main h1").textContent()).toBe("Your account");
    // A wrong current password: a clear message, on the form.
    await page.fill("#current-password", "not the password");
    await page.fill("#new-password", CHANGED_PASSWORD);
    await page.fill("#confirm-password", CHANGED_PASSWORD);
    await page.click("form.account-password button[type=submit]");
    await page.locator("#password-message [role=alert]").waitFor();
    expect(await page.textContent("#password-message")).toBe("The current password is wrong.");
    expect(await inViewport(page, "#password-message [role=alert]")).toBe(true);

    await page.fill("#current-password", PASSWORD);
    await page.fill("#new-password", CHANGED_PASSWORD);
    await page.fill("#confirm-password", CHANGED_PASSWORD);
    await Promise.all([page.waitForURL(`${server.url}/admin/account?changed=1`), page.click("form.account-password button[type=submit]")]);
    expect(await page.textContent("#password-message")).toBe("Password changed. Your other sessions have ended.");
    expect(await inViewport(page, "#password-message [role=status]")).toBe(true);
    // This browser is still signed in.
    await page.goto(`${server.url}/admin`);
    expect(await page.locator("main h1").textContent()).toBe("Dashboard");

    const { context, page: other } = await freshPage((status, path) => status === 401 && path === "/admin/login");
    await other.goto(`${server.url}/admin/login`);
    await other.fill("#email", ADMIN);
    await other.fill("#password", PASSWORD);
    await other.click("button[type=submit]");
    await other.locator("#form-message [role=alert]").waitFor();
    expect(await other.textContent("#form-message")).toBe("Wrong email or password.");
    await other.fill("#password", CHANGED_PASSWORD);
    await Promise.all([other.waitForURL(`${server.url}/admin`), other.click("button[type=submit]")]);
    expect(await other.locator(".who").textContent()).toContain(ADMIN);
    await context.close();
  });

  // Narrower than 1280 px, the admin's pages fit once the frame's breakpoint (sidebar to top bar) and its
  // .table-scroll are in: those are the frame's, tested on every page there. Here: what this part adds.
  test("the Users and account pages fit at 1280 px, the invite page at every width, and the link wraps", async () => {
    const { page } = admin;
    // A long email and a pending invite with its link shown: the widest the Users page gets.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.url}/admin/users`);
    await page.fill("#invite-email", "a.rather.long.address.for.a.narrow.screen@subdomain.example.com");
    await page.click("form.invite-form button[type=submit]");
    await page.locator("#invite-link").waitFor();
    const link = (await page.textContent("#invite-link"))!;
    expect(await horizontalOverflow(page)).toBe(0);
    for (const width of [390, 768, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      // The link breaks across lines inside its panel: nothing of it is clipped or sticks out.
      const fits = await page.evaluate(() => {
        const code = document.querySelector("#invite-link")!;
        const panel = document.querySelector("#invite-issued")!.getBoundingClientRect();
        return code.scrollWidth <= code.clientWidth && code.getBoundingClientRect().right <= panel.right;
      });
      expect({ width, fits }).toEqual({ width, fits: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.url}/admin/account`);
    expect(await horizontalOverflow(page)).toBe(0);

    const { context, page: invitee } = await freshPage(() => false);
    await invitee.goto(link);
    for (const width of [390, 768, 1280]) {
      await invitee.setViewportSize({ width, height: 900 });
      expect({ width, overflow: await horizontalOverflow(invitee) }).toEqual({ width, overflow: 0 });
    }
    await context.close();
  });

  test("nothing was blocked by the Content-Security-Policy and no script failed", () => {
    // The wrong current password's 400 is the answer that test expected.
    expect(admin.problems.filter((p) => p !== "400 /admin/account/password")).toEqual([]);
    expect(others.flat()).toEqual([]);
  });
});

// Without Chromium on CI, fail loudly rather than pass by skipping.
if (!haveChromium && process.env.CI) {
  test("chromium is installed for the browser tests", () => {
    throw new Error(CHROMIUM_MISSING);
  });
}
