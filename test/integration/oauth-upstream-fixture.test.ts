// The OAuth upstream fixture (test/fixtures/oauth-upstream.ts) against real OAuth clients: the MCP SDK's
// auth() with an in-memory OAuthClientProvider, and its Client over Streamable HTTP with that provider.
// Registration by DCR, by a client ID metadata document and as a pre-registered confidential client;
// discovery variants; refresh rotation and revocation; and the requests it must refuse.
import { afterEach, describe, expect, test } from "bun:test";
import { auth, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { approveAuthorization, type OAuthUpstream, type OAuthUpstreamOptions, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";

const REDIRECT = "http://127.0.0.1:9/callback";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstreamWith(options: OAuthUpstreamOptions = {}): Promise<OAuthUpstream> {
  const upstream = await startOAuthUpstream(options);
  cleanups.push(() => upstream.close());
  return upstream;
}

/** An OAuth client's memory, as an application would keep it for one server. */
class MemoryProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  authorizationUrl: URL | null = null;
  readonly clientMetadataUrl: string | undefined;

  constructor(options: { client?: OAuthClientInformationMixed; clientMetadataUrl?: string } = {}) {
    this.client = options.client;
    this.clientMetadataUrl = options.clientMetadataUrl;
  }
  get redirectUrl(): string {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: "Fixture test client", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  state(): string {
    return "state-123";
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }
  saveClientInformation(client: OAuthClientInformationMixed): void {
    this.client = client;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

/** auth() up to the redirect, the sign-in page approved as `username`, then auth() with the code. Returns the callback's query. */
async function authorize(upstream: OAuthUpstream, provider: MemoryProvider, username: string): Promise<URLSearchParams> {
  expect(await auth(provider, { serverUrl: upstream.mcpUrl })).toBe("REDIRECT");
  if (!provider.authorizationUrl) throw new Error("auth() did not redirect");
  const callback = new URL(await approveAuthorization(provider.authorizationUrl, username));
  expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
  const code = callback.searchParams.get("code");
  if (!code) throw new Error(`no code in ${callback.href}`);
  expect(await auth(provider, { serverUrl: upstream.mcpUrl, authorizationCode: code })).toBe("AUTHORIZED");
  return callback.searchParams;
}

/** An SDK client on the upstream with the provider's tokens. */
async function connect(upstream: OAuthUpstream, provider: MemoryProvider): Promise<Client> {
  const client = new Client({ name: "fixture-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(upstream.mcpUrl), { authProvider: provider }));
  cleanups.push(() => client.close());
  return client;
}

async function whoami(client: Client): Promise<string> {
  const result = await client.callTool({ name: "whoami", arguments: {} });
  expect(result.structuredContent).toEqual({ user: (result.content as { text: string }[])[0]?.text });
  return (result.content as { text: string }[])[0]?.text ?? "";
}

describe("the full flow with the SDK's auth()", () => {
  test("dynamic registration: a public client registers, the user approves, whoami answers that user", async () => {
    const upstream = await upstreamWith({ cimd: false });
    const provider = new MemoryProvider();
    const query = await authorize(upstream, provider, "alice");
    expect(query.get("state")).toBe("state-123");
    expect(query.get("iss")).toBe(upstream.issuer);
    expect(upstream.stats.registrations).toBe(1);
    expect(upstream.stats.authorizationCodes).toBe(1);
    expect(upstream.stats.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 0 });
    expect(provider.saved?.refresh_token).toBeString();
    expect(provider.saved?.scope).toBe("mcp:tools");
    const client = await connect(upstream, provider);
    expect(await whoami(client)).toBe("alice");
    expect((await client.callTool({ name: "echo", arguments: { text: "hi" } })).content).toEqual([{ type: "text", text: "hi" }]);
    expect(upstream.stats.toolCalls).toEqual([
      { tool: "whoami", user: "alice" },
      { tool: "echo", user: "alice" },
    ]);
    expect(upstream.stats.unauthorized).toBe(0);
  });
});
