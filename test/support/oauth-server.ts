// The end-to-end OAuth tests' world: a real listening Switchboard with the fixture upstream and two
// agents over it, a user who signs in with a password, an API key; a loopback server that catches
// the authorization redirects; a local server of client ID metadata documents; raw token endpoint calls.
import { join } from "node:path";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { User } from "../../src/domain/access/users.ts";
import { startTestServer, type ConfigOverrides, type TestServer } from "./app.ts";
import { bundledFixture } from "./fixture-bundle.ts";
import { mintKey } from "./key-harness.ts";
import { createSignInUser, PASSWORD } from "./users.ts";

/** The agent every client signs in for ("one": echo and add) and the one its tokens must not reach ("two"). */
export const AGENT = "one";
export const OTHER_AGENT = "two";

export type OAuthWorld = TestServer & {
  /** The admin who signs in through the browser and approves. */
  admin: User;
  password: string;
  agentId: string;
  otherAgentId: string;
  /** `<public_url>/mcp/agent/one`: the URL clients are given, and the OAuth resource. */
  agentUrl: string;
  otherAgentUrl: string;
  /** An API key of the admin's with every tool of agent one (and nothing else). */
  apiKey: string;
};

/**
 * Starts Switchboard on 127.0.0.1 with the fixture upstream "alpha" behind agents "one" and "two",
 * discovered. `allowLoopbackClientMetadata` is the test-only switch that lets it fetch client ID
 * metadata documents from a local http server.
 */
export async function startOAuthWorld(options: { oauth?: ConfigOverrides["oauth"]; allowLoopbackClientMetadata?: boolean } = {}): Promise<OAuthWorld> {
  const fixture = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
  const running = await startTestServer({
    allowLoopbackClientMetadata: options.allowLoopbackClientMetadata,
    overrides: {
      oauth: options.oauth,
      connections: [{ slug: "alpha", command: process.execPath, args: [fixture], env: { FIXTURE_NAME: "alpha" } }],
      agents: [
        { slug: AGENT, tools: { alpha: ["echo", "add"] } },
        { slug: OTHER_AGENT, tools: { alpha: ["echo"] } },
      ],
    },
  });
  try {
    const { deps } = running.server;
    await deps.gateway.refresh(configConnectionId("alpha"));
    const admin = await createSignInUser(deps, "owner@example.com", "admin");
    const agentId = configAgentId(AGENT);
    const { token } = await mintKey(deps, admin, { [agentId]: ["*"] }, { name: "e2e key" });
    const base = deps.config.server.public_url;
    return {
      ...running,
      admin,
      password: PASSWORD,
      agentId,
      otherAgentId: configAgentId(OTHER_AGENT),
      agentUrl: `${base}/mcp/agent/${AGENT}`,
      otherAgentUrl: `${base}/mcp/agent/${OTHER_AGENT}`,
      apiKey: token,
    };
  } catch (err) {
    await running.cleanup();
    throw err;
  }
}

/**
 * A client's loopback redirect URI (RFC 8252 §7.3): a listening server on 127.0.0.1 whose requests
 * are the authorization responses. `next()` resolves with the next one to arrive (or one that came
 * before anyone asked), so a test waits for the redirect itself, never for a time.
 */
export type CallbackServer = {
  /** `http://127.0.0.1:<port>/callback` */
  redirectUri: string;
  port: number;
  next: () => Promise<URL>;
  /** Every request to the redirect URI's path received, in order. */
  received: URL[];
  stop: () => void;
};

export function startCallbackServer(path = "/callback"): CallbackServer {
  const waiting: ((url: URL) => void)[] = [];
  const unclaimed: URL[] = [];
  const received: URL[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      // The browser also asks the callback's origin for /favicon.ico: only the redirect URI's path counts.
      if (url.pathname !== path) return new Response("not found", { status: 404 });
      received.push(url);
      const waiter = waiting.shift();
      if (waiter) waiter(url);
      else unclaimed.push(url);
      return new Response("Signed in; you may close this window.", { headers: { "content-type": "text/plain" } });
    },
  });
  return {
    redirectUri: `http://127.0.0.1:${server.port}${path}`,
    port: server.port!,
    received,
    next: () => {
      const ready = unclaimed.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    stop: () => void server.stop(true),
  };
}

/** A server of client ID metadata documents on 127.0.0.1 over http (reachable by Switchboard only through the test switch). */
export type MetadataServer = {
  /** The URL a document is (or would be) served at: `http://127.0.0.1:<port><path>`. */
  urlOf: (path: string) => string;
  /** Serves `document` as JSON at `path`. */
  serve: (path: string, document: Record<string, unknown>) => void;
  /** Paths requested so far, in order. */
  requests: string[];
  stop: () => void;
};

export function startMetadataServer(): MetadataServer {
  const documents = new Map<string, Record<string, unknown>>();
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const document = documents.get(path);
      return document ? Response.json(document) : new Response("not found", { status: 404 });
    },
  });
  const origin = `http://127.0.0.1:${server.port}`;
  return {
    urlOf: (path) => `${origin}${path}`,
    serve: (path, document) => void documents.set(path, document),
    requests,
    stop: () => void server.stop(true),
  };
}

/** The token endpoint's answer: status, headers and the JSON body. */
export type TokenResponse = { status: number; headers: Headers; body: Record<string, unknown> };

/** A form-encoded POST to `<base>/oauth/<endpoint>`, as a public client sends it (no client authentication). */
export async function postOAuthForm(base: string, endpoint: "token" | "revoke", fields: Record<string, string>): Promise<TokenResponse> {
  const res = await fetch(`${base}/oauth/${endpoint}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A PKCE pair (RFC 7636): a 43-character verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const challenge = new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

/** A raw authorization URL, for the requests no well-behaved client would build (foreign redirect, wrong verifier). */
export function authorizationUrl(base: string, params: { clientId: string; redirectUri: string; challenge: string; resource: string; state?: string; scope?: string }): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: params.clientId,
    redirect_uri: params.redirectUri,
    code_challenge: params.challenge,
    code_challenge_method: "S256",
    resource: params.resource,
    state: params.state ?? "e2e-state",
    ...(params.scope ? { scope: params.scope } : {}),
  });
  return `${base}/oauth/authorize?${query}`;
}
