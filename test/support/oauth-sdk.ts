// The TypeScript SDK's OAuth client as a desktop app would use it: an OAuthClientProvider that keeps
// its registration, tokens and PKCE verifier in memory and hands the authorization URL to the test
// (which drives the browser), and a connect that runs the SDK's own 401 → discovery → registration →
// redirect → finishAuth → reconnect sequence.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";

export type ProviderOptions = {
  /** The loopback redirect URI the client registers and is sent back to. */
  redirectUri: string;
  clientName: string;
  /**
   * A client ID metadata document's URL to use as client_id (no registration). The SDK accepts only
   * https URLs for `clientMetadataUrl`; a test's http document is therefore given as the client's
   * known client information, which is the same thing the SDK does with an https one.
   */
  clientMetadataUrl?: string;
};

/** An in-memory OAuthClientProvider; `authorizationUrls` is every URL the SDK asked to open, in order. */
export class MemoryOAuthProvider implements OAuthClientProvider {
  readonly authorizationUrls: URL[] = [];
  /** Every token set the SDK saved (by code or by refresh), in order. */
  readonly savedTokens: OAuthTokens[] = [];
  private client: OAuthClientInformationMixed | undefined;
  private current: OAuthTokens | undefined;
  private verifier: string | undefined;
  private waiting: ((url: URL) => void)[] = [];
  readonly clientMetadataUrl?: string;

  constructor(private readonly options: ProviderOptions) {
    const url = options.clientMetadataUrl;
    if (url?.startsWith("https://")) this.clientMetadataUrl = url;
    else if (url) this.client = { client_id: url };
  }

  get redirectUrl(): string {
    return this.options.redirectUri;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this.options.redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.current;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.current = tokens;
    this.savedTokens.push(tokens);
  }

  /** Replaces the stored tokens (a test simulating what a client kept). */
  setTokens(tokens: OAuthTokens): void {
    this.current = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrls.push(url);
    this.waiting.shift()?.(url);
  }

  /** The next authorization URL the SDK asks to open (ask before the call that leads to it). */
  nextAuthorizationUrl(): Promise<URL> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error("no PKCE verifier saved");
    return this.verifier;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.current = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
  }

  /** The client_id in use (registered or the document's URL). */
  get clientId(): string | undefined {
    return this.client?.client_id;
  }
}

/** A connected SDK client and its transport. */
export type Connected = { client: Client; transport: StreamableHTTPClientTransport };

/** Connects to `url` with the provider's tokens; rejects with UnauthorizedError when the SDK must send the user to sign in. */
export async function connectWith(url: string, provider: MemoryOAuthProvider): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name: "oauth-e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/**
 * The whole first connection of an SDK client: connect (401), let the SDK discover and register and
 * ask for the authorization URL, have `authorize` take the user through it and return the code the
 * redirect brought, `finishAuth(code)`, then connect again with the tokens.
 */
export async function connectThroughSignIn(url: string, provider: MemoryOAuthProvider, authorize: (authorizationUrl: URL) => Promise<string>): Promise<Connected> {
  const asked = provider.nextAuthorizationUrl();
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const first = new Client({ name: "oauth-e2e", version: "1.0.0" });
  const refused = await first.connect(transport).then(
    () => null,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected the first connect to need a sign-in, got ${String(refused)}`);
  const code = await authorize(await asked);
  await transport.finishAuth(code);
  await transport.close();
  return connectWith(url, provider);
}
