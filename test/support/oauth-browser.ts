// The person in the OAuth flow: a headless Chromium (playwright-core) that opens the authorization URL a
// client produced, signs in on Switchboard's sign-in page when asked, and approves or denies on the
// consent page. The redirect back to the client is observed by the client's own callback, not here.
import type { Page, Response } from "playwright-core";

export type Person = { email: string; password: string };

/**
 * Opens `authorizationUrl` and signs in if Switchboard asks, then stops on the consent page, or throws
 * with what the page said if no consent page came. True when it had to sign in.
 */
export async function openConsent(page: Page, authorizationUrl: string, person: Person, origin: string): Promise<boolean> {
  await page.goto(authorizationUrl);
  const signIn = new URL(page.url()).pathname === "/admin/login";
  if (signIn) {
    await page.fill("#email", person.email);
    await page.fill("#password", person.password);
    // Signing in sends the browser back to the authorization request it came from.
    await Promise.all([page.waitForURL((url) => url.pathname === "/oauth/authorize"), page.click("button[type=submit]")]);
  }
  const url = new URL(page.url());
  if (url.origin !== origin || url.pathname !== "/oauth/authorize") throw new Error(`expected the consent page, got ${page.url()}: ${await page.textContent("body")}`);
  await approveButton(page).waitFor();
  return signIn;
}

/** The consent page's approve button. */
export function approveButton(page: Page): ReturnType<Page["getByRole"]> {
  return page.getByRole("button", { name: /^(approve|allow)/i });
}

/** The consent page's deny button. */
export function denyButton(page: Page): ReturnType<Page["getByRole"]> {
  return page.getByRole("button", { name: /^(deny|cancel|decline)/i });
}

/** Opens a URL that must not reach the client: the response Switchboard answered with (status, page text, where the browser is). */
export async function openRefused(page: Page, url: string): Promise<{ status: number; text: string; url: string }> {
  const response: Response | null = await page.goto(url);
  return { status: response?.status() ?? 0, text: (await page.textContent("body")) ?? "", url: page.url() };
}
