// The keys pages in a real browser (Chromium through playwright-core) against a real server with a
// stdio upstream and an agent over it: the form asks for the agent first, the token dialog is a real
// modal (focus inside, Tab kept in, Esc closes, focus given back) whose snippets name the agent and
// hold the token, uncut at 390 px, and whose curl line works; the list names grants with links; a
// key's page edits the key (seen through the API), shows its activity, and rotates it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { RunningServer } from "../../src/server.ts";
import { startTestServer, type TestServer } from "../support/app.ts";
import { haveChromium, horizontalOverflow, inViewport, launchChromium, signedInPage } from "../support/browser.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";
import { mintKey, TOKEN_PATTERN } from "../support/key-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

// A browser step may wait up to the page's own 10 s; the test's limit must not cut it shorter.
setDefaultTimeout(30_000);

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const AGENT = configAgentId("helper");

describe.skipIf(!haveChromium)("keys in a browser", () => {
  let running: TestServer | undefined;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];
  /** An admin's key for checking through the API what the pages did. */
  let apiToken: string;
  /** The key created in the browser, and its token. */
  let keyId = "";
  let token = "";
  /** The dialog's curl line, as shown. */
  let curlLine = "";

  beforeAll(async () => {
    running = await startTestServer({
      overrides: {
        connections: [{ slug: "alpha", command: process.execPath, args: [FIXTURE], env: { FIXTURE_NAME: "alpha" } }],
        agents: [{ slug: "helper", title: "Helper desk", tools: { alpha: ["echo", "add"] } }],
      },
    });
    server = running.server;
    await server.deps.gateway.refresh(configConnectionId("alpha"));
    const admin = await insertUser(server.deps, "admin");
    apiToken = (await mintKey(server.deps, admin, { self: ["*"] }, { name: "api checker" })).token;
    const cookie = await sessionCookieFor(server.deps, admin, 600_000);
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, server.url, cookie));
    // Rotate and revoke ask first (hx-confirm): say yes.
    page.on("dialog", (d) => void d.accept());
  });

  afterAll(async () => {
    await browser?.close();
    await running?.cleanup();
  });

  async function api(path: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${apiToken}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  /** Whether the focused element is inside the open token dialog, and its text. */
  function focus(): Promise<{ inside: boolean; text: string }> {
    return page.evaluate(() => {
      const at = document.activeElement;
      return { inside: !!at && !!document.querySelector("#token-dialog")?.contains(at), text: at?.textContent?.trim() ?? "" };
    });
  }

  test("the create form asks which agent first; Advanced starts closed; from the agent's link the agent is ticked and in view", async () => {
    await page.goto(`${server.url}/admin/keys`);
    expect(await page.locator("#create-key fieldset").first().locator("legend").textContent()).toBe("Which agent is this key for?");
    expect(await page.locator('#create-key details[data-advanced="self"]').getAttribute("open")).toBeNull();
    expect(await page.locator('#create-key details[data-advanced="raw"]').getAttribute("open")).toBeNull();
    expect(await page.isVisible('#create-key input[name="self"][value="WHOAMI"]')).toBe(false);
    await page.goto(`${server.url}/admin/keys?grant=${AGENT}#create-key`);
    expect(await page.isChecked(`#create-key input[name="grant_all"][value="${AGENT}"]`)).toBe(true);
    expect(await inViewport(page, `#grant-${AGENT}`)).toBe(true);
  });

  test("nothing chosen: the refusal is shown beside the form", async () => {
    await page.goto(`${server.url}/admin/keys`);
    await page.fill("#key-name", "empty handed");
    await page.click("#create-key button[type=submit]");
    const alert = page.locator("#create-key-message .alert.error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("This key would grant nothing");
    expect(await inViewport(page, "#create-key-message .alert.error")).toBe(true);
  });

  test("the token dialog is a modal: focus on Copy token, Tab stays inside, nothing cut at 390 px, Esc closes and gives focus back", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${server.url}/admin/keys?grant=${AGENT}#create-key`);
    await page.fill("#key-name", "helper bot");
    await page.click("#create-key button[type=submit]");
    const dialog = page.locator("dialog#token-dialog");
    await dialog.waitFor();
    await page.waitForFunction(() => document.querySelector("dialog#token-dialog")?.matches(":modal") === true);
    expect(await focus()).toEqual({ inside: true, text: "Copy token" });

    token = (await page.textContent("#new-token"))!.trim();
    expect(token).toMatch(TOKEN_PATTERN);
    keyId = (await page.getAttribute("dialog#token-dialog", "data-return-focus"))!.match(/key_[0-9a-f-]{36}/)![0];
    const cursor = JSON.parse((await page.textContent("#token-0-cursor"))!) as { mcpServers: Record<string, { url: string; headers: { Authorization: string } }> };
    expect(cursor.mcpServers.helper).toEqual({ url: `${server.url}/mcp-key/agent/${AGENT}`, headers: { Authorization: `Bearer ${token}` } });
    expect(await page.textContent("#token-0-claude-code")).toContain(`claude mcp add --transport http helper ${server.url}/mcp/agent/${AGENT}`);
    curlLine = (await page.textContent("#token-0-curl"))!;

    // Nothing is cut: open every snippet, then no line of the token or a snippet is wider than its box, nor the dialog than the screen.
    await page.evaluate(() => document.querySelectorAll("#token-dialog details").forEach((d) => ((d as HTMLDetailsElement).open = true)));
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll("#token-dialog code.token, #token-dialog pre, #token-dialog")]
        .filter((el) => el.scrollWidth > el.clientWidth || el.getBoundingClientRect().right > window.innerWidth)
        .map((el) => el.id || el.tagName),
    );
    expect(cut).toEqual([]);
    const box = (await page.locator("#new-token").boundingBox())!;
    expect(box.height).toBeGreaterThan(30); // the 57-character token wraps rather than running off

    // Tab goes round inside: as many steps as there are stops brings focus back to Copy token.
    const stops = await page.evaluate(() =>
      [...document.querySelectorAll("#token-dialog button, #token-dialog summary")].filter((el) => el.getClientRects().length > 0).length,
    );
    for (let i = 0; i < stops; i++) {
      await page.keyboard.press("Tab");
      expect((await focus()).inside).toBe(true);
    }
    expect((await focus()).text).toBe("Copy token");
    await page.keyboard.press("Shift+Tab");
    expect(await focus()).toEqual({ inside: true, text: "Done" });

    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("helper bot");
    expect(await page.evaluate((t) => document.body.innerHTML.includes(t), token)).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("the dialog's curl line works as pasted", async () => {
    expect(curlLine).toContain(token);
    const run = Bun.spawn(["sh", "-c", curlLine], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(run.stdout).text();
    expect(await run.exited).toBe(0);
    expect(out).toContain('"serverInfo"');
  });

  test("the list names the grant with a link to the agent", async () => {
    await page.goto(`${server.url}/admin/keys`);
    const link = page.locator(`#key-${keyId} a[href="/admin/agents/${AGENT}"]`);
    expect(await link.textContent()).toBe("Helper desk");
    expect(await page.textContent(`#key-${keyId} ul.grants`)).toContain("Helper desk: all tools");
    // The list used to be 98 px wider than a 1280 px window (eight columns).
    expect(await horizontalOverflow(page)).toBe(0);
  });

  test("the key's page shows its activity", async () => {
    await server.deps.usageRecorder.flush();
    await page.click(`#key-${keyId} a.key-name`);
    await page.waitForURL(`${server.url}/admin/keys/${keyId}`);
    expect(await page.textContent("main h1")).toBe("helper bot");
    expect(Number(await page.textContent("#activity [data-calls]"))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent("#activity")).toContain("curl");
    expect(await horizontalOverflow(page)).toBe(0);
  });

  test("edit name, grants and expiry: busy while saving, then Saved., and the API sees the change", async () => {
    await page.click("#edit-key > summary");
    await page.fill("#edit-name", "helper echo bot");
    // Picking a tool unticks "all its tools", and ticking "all" again would untick the pick.
    await page.click(`#grant-${AGENT} details.pick > summary`);
    await page.check(`#edit-key input[name="grant_${AGENT}"][value="echo"]`);
    expect(await page.isChecked(`#edit-key input[name="grant_all"][value="${AGENT}"]`)).toBe(false);
    await page.selectOption("#edit-expiry", "30d");
    // Hold the save until the busy state has been seen.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(`**/admin/keys/${keyId}`, async (route) => {
      if (route.request().method() === "POST") await held;
      await route.continue();
    });
    await page.click("#edit-key button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#edit-key form")?.getAttribute("aria-busy") === "true");
    expect(await page.isDisabled("#edit-key button[type=submit]")).toBe(true);
    release();
    await page.waitForURL(`${server.url}/admin/keys/${keyId}?done=saved`);
    await page.unroute(`**/admin/keys/${keyId}`);
    expect(await page.textContent("#key-message .alert.ok")).toBe("Saved.");
    expect(await inViewport(page, "#key-message .alert.ok")).toBe(true);
    expect(await page.textContent("main h1")).toBe("helper echo bot");
    const key = await api(`/keys/${keyId}`);
    expect(key.name).toBe("helper echo bot");
    expect(key.permissions).toEqual({ [AGENT]: ["echo"] });
    expect(Date.parse(key.expires_at as string)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  test("rotate from the key's page: the same modal, then focus back on Rotate", async () => {
    await page.click("#rotate-key button[type=submit]");
    await page.locator("dialog#token-dialog").waitFor();
    await page.waitForFunction(() => document.querySelector("dialog#token-dialog")?.matches(":modal") === true);
    expect(await page.textContent("#key-message .alert.ok")).toBe("Rotated: copy the new token now.");
    const fresh = (await page.textContent("#new-token"))!.trim();
    expect(fresh).not.toBe(token);
    expect(await page.textContent("#token-0-vscode")).toContain(`"helper"`);
    await page.click("#token-dialog [data-close-modal]");
    await page.locator("dialog#token-dialog").waitFor({ state: "detached" });
    expect(await page.evaluate(() => document.activeElement?.closest("form")?.id)).toBe("rotate-key");
    // The one answer at or above 400 is the refusal of the key that granted nothing, asked for above.
    expect(problems).toEqual(["400 /admin/keys"]);
  });
});
