// OAuth approvals made through the domain, as the authorization server makes them: a client registers,
// the user approves (a code), the client exchanges it (a token family = one grant). For the tests of
// the grant and client operations and the "Authorized apps" page.
import { createHash, randomBytes } from "node:crypto";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import type { User } from "../../src/domain/access/users.ts";
import { exchangeCode, issueCode } from "../../src/domain/oauth/authorizations.ts";
import { registerClient, saveClientDocument } from "../../src/domain/oauth/clients.ts";
import type { OAuthClient, TokenSet } from "../../src/domain/oauth/types.ts";
import type { AppDeps } from "../../src/http/context.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { PUBLIC_URL } from "./app.ts";

type Deps = Pick<AppDeps, "db" | "keys" | "config">;

const REDIRECT = "http://127.0.0.1:33418/callback";

/** A registered (DCR) client with a loopback redirect URI. */
export async function dcrClient(deps: Deps, name = "Test client"): Promise<OAuthClient> {
  return registerClient(deps.db, { name, redirectUris: [REDIRECT], clientUri: null, logoUri: null });
}

/** A client named by its metadata document's URL (stored as if just fetched). */
export async function cimdClient(deps: Deps, url = "https://claude.ai/oauth/mcp-oauth-client-metadata", name = "Claude"): Promise<OAuthClient> {
  return saveClientDocument(deps.db, url, { name, redirectUris: ["https://claude.ai/api/mcp/auth_callback"], clientUri: null, logoUri: null }, new Date(Date.now() + 3_600_000));
}

/** A fresh agent to approve a client for: its id, slug and resource URL. */
export async function agentResource(deps: Deps, slug = `app-${randomBytes(4).toString("hex")}`): Promise<{ id: string; slug: string; url: string }> {
  const agent = await createAgent(agentStore(deps as AppDeps), newAgentFields({ slug }));
  return { id: agent.id, slug: agent.slug, url: `${PUBLIC_URL}/mcp/agent/${agent.id}` };
}

/** The user approves `client` for the resource and the client exchanges the code: the grant and its tokens. */
export async function approve(deps: Deps, user: User, client: OAuthClient, resource: { id: string; url: string }): Promise<TokenSet> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const redirectUri = client.redirectUris[0]!;
  const code = await issueCode(
    deps.db,
    deps.keys.tokenHmac,
    { clientId: client.id, userId: user.id, redirectUri, codeChallenge: challenge, resource: resource.id, resourceUrl: resource.url, scope: "mcp" },
    { ttlMs: 60_000 },
  );
  return exchangeCode(
    deps.db,
    deps.keys.tokenHmac,
    { code, clientId: client.id, redirectUri, codeVerifier: verifier, resourceUrl: resource.url },
    { accessTtlMs: deps.config.oauth.access_token_ttl, refreshTtlMs: deps.config.oauth.refresh_token_ttl },
  );
}
