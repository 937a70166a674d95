// The end-to-end tests of OAuth-protected upstreams: a person signing in at the fixture's page in Chromium,
// MCP clients calling with an API key's bearer, the tokens Switchboard holds (read from its store to
// prove no page ever shows them), and waiting for the gateway to discover a connection's tools.
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import type { RunningServer } from "../../src/server.ts";
import type { OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { waitUntil } from "./gateway-harness.ts";

/**
 * On the fixture's sign-in page (where an Authorize / Connect button led `page`): signs in as `username`,
 * approves, and waits until the browser is back at `back` (Switchboard's page after the callback).
 */
export async function approveAtFixture(page: Page, upstream: OAuthUpstream, username: string, back: string | RegExp): Promise<void> {
  await page.waitForURL(`${upstream.issuer}/authorize**`);
  await page.getByLabel("Username").fill(username);
  await Promise.all([page.waitForURL(back), page.getByRole("button", { name: "Approve" }).click()]);
}

/** Clicks a button that leaves for the authorization server (through Switchboard's "Continue to sign in" step). */
export async function leaveFor(page: Page, upstream: OAuthUpstream, click: () => Promise<void>): Promise<void> {
  await Promise.all([page.waitForURL(`${upstream.issuer}/authorize**`), click()]);
}

/** An MCP client connected to `url` with an API key's bearer (a real SDK client over Streamable HTTP). */
export async function keyClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "upstream-oauth-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** One tool call's outcome: whether it is a tool error, and its text. */
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; text: string }> {
  const result = await client.callTool({ name, arguments: args });
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return { isError: result.isError === true, text: content.map((c) => c.text ?? "").join("\n") };
}

/** A `whoami` call that must succeed: the upstream user it ran as. */
export async function whoami(client: Client, name = "whoami"): Promise<string> {
  const answer = await callText(client, name);
  if (answer.isError) throw new Error(`whoami failed: ${answer.text}`);
  return answer.text;
}

/**
 * Collects every upstream token Switchboard has held for the links it is asked about (access and
 * refresh), read back decrypted from its store: what no page may ever contain.
 */
export class SeenTokens {
  readonly all = new Set<string>();
  constructor(private readonly server: RunningServer) {}

  /** Reads the link's current tokens and remembers them; returns them (null when there is no link). */
  async read(connectionId: string, subject: string): Promise<{ access: string; refresh: string | null; expiresAt: Date | null } | null> {
    const link = await upstreamOAuthStore(connectionStore(this.server.deps)).getLink(connectionId, subject as OAuthSubject);
    if (!link) return null;
    this.all.add(link.tokens.accessToken);
    if (link.tokens.refreshToken) this.all.add(link.tokens.refreshToken);
    return { access: link.tokens.accessToken, refresh: link.tokens.refreshToken, expiresAt: link.tokens.expiresAt };
  }

  /** The page's HTML names none of the tokens seen so far. */
  async expectNoneIn(page: Page): Promise<void> {
    expect(this.all.size).toBeGreaterThan(0);
    const html = await page.content();
    for (const token of this.all) expect(html.includes(token)).toBe(false);
  }
}

/** Waits until the gateway has discovered `tool` on the connection (after an authorization gave it a token). */
export async function discovered(server: RunningServer, connectionId: string, tool: string): Promise<void> {
  await waitUntil(() => server.deps.gateway.discovery(connectionId).tools.some((t) => t.name === tool), `${tool} discovered on ${connectionId}`, 20_000);
}

/**
 * Waits until an access token Switchboard holds as expiring at `expiresAt` is expired. Switchboard
 * computes that time after the fixture issued the token, on the same clock: the fixture has expired it too.
 */
export async function pastExpiry(expiresAt: Date | null): Promise<void> {
  if (!expiresAt) throw new Error("the token has no expiry");
  await waitUntil(() => Date.now() > expiresAt.getTime() + 50, "the access token to expire", 10_000);
}
