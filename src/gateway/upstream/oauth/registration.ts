// How Switchboard becomes a client of an upstream's authorization server: the client id the admin
// entered (manual), else its client ID metadata document (CIMD), else dynamic registration (RFC 7591).
import { registerClient } from "@modelcontextprotocol/sdk/client/auth.js";
import type { UpstreamRegistration } from "../../../domain/connections/oauth-types.ts";
import { AppError } from "../../../errors.ts";
import { clientMetadataDocument, clientMetadataUrl, mayUseClientMetadata, upstreamCallbackUrl } from "./client-metadata.ts";
import { describeFailure, type DiscoveredServer } from "./discovery.ts";

/** What registration needs of the connection: its id and the client settings the admin may have entered. */
export type ClientSettings = { connectionId: string; clientId: string | null; clientSecret: string | null; scopes: string | null };

type AuthMethod = UpstreamRegistration["tokenEndpointAuthMethod"];

/**
 * How a confidential client authenticates: basic when the server lists it (or lists nothing: RFC 8414
 * §2's default), else post when listed; without a secret, as a public client.
 */
function confidentialMethod(secret: string | null, supported: string[] | undefined): AuthMethod {
  if (!secret) return "none";
  if (!supported || supported.length === 0 || supported.includes("client_secret_basic")) return "client_secret_basic";
  if (supported.includes("client_secret_post")) return "client_secret_post";
  throw new AppError(
    "UPSTREAM_OAUTH_UNAVAILABLE",
    "The authorization server accepts neither client_secret_basic nor client_secret_post, so the client secret cannot be used.",
  );
}

/**
 * Registers Switchboard at the discovered server (or takes the configured client) and returns the
 * registration to store. Throws UPSTREAM_OAUTH_UNAVAILABLE (no way to register) or UPSTREAM_OAUTH_FAILED
 * (the server refused the registration).
 */
export async function registerAtServer(
  settings: ClientSettings,
  server: DiscoveredServer,
  options: { publicUrl: string; fetchFn: typeof fetch; now: Date },
): Promise<UpstreamRegistration> {
  const { metadata } = server;
  const redirectUri = upstreamCallbackUrl(options.publicUrl);
  const scopes = settings.scopes ?? server.scopes;
  const base = {
    connectionId: settings.connectionId,
    issuer: server.issuer,
    resource: server.resource,
    authorizationEndpoint: metadata.authorization_endpoint,
    tokenEndpoint: metadata.token_endpoint,
    revocationEndpoint: metadata.revocation_endpoint ?? null,
    userinfoEndpoint: typeof metadata.userinfo_endpoint === "string" ? metadata.userinfo_endpoint : null,
    scopes,
    redirectUri,
    createdAt: options.now,
  };
  if (settings.clientId) {
    return {
      ...base,
      method: "manual",
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      tokenEndpointAuthMethod: confidentialMethod(settings.clientSecret, metadata.token_endpoint_auth_methods_supported),
    };
  }
  if (metadata.client_id_metadata_document_supported === true && mayUseClientMetadata(options.publicUrl)) {
    return { ...base, method: "cimd", clientId: clientMetadataUrl(options.publicUrl), clientSecret: null, tokenEndpointAuthMethod: "none" };
  }
  if (metadata.registration_endpoint) {
    const document = clientMetadataDocument(options.publicUrl);
    let registered;
    try {
      registered = await registerClient(server.issuer, {
        metadata,
        clientMetadata: {
          client_name: document.client_name,
          client_uri: document.client_uri,
          redirect_uris: document.redirect_uris,
          grant_types: document.grant_types,
          response_types: document.response_types,
          token_endpoint_auth_method: "none",
        },
        scope: scopes ?? undefined,
        fetchFn: options.fetchFn,
      });
    } catch (err) {
      throw new AppError("UPSTREAM_OAUTH_FAILED", `The authorization server ${server.issuer} refused to register Switchboard: ${describeFailure(err)}.`);
    }
    // A server may make the client confidential anyway: then its secret is kept and used as it says.
    const secret = registered.client_secret ?? null;
    const said = registered.token_endpoint_auth_method;
    const method: AuthMethod = secret ? (said === "client_secret_post" ? "client_secret_post" : "client_secret_basic") : "none";
    return { ...base, method: "dcr", clientId: registered.client_id, clientSecret: secret, tokenEndpointAuthMethod: method };
  }
  throw new AppError(
    "UPSTREAM_OAUTH_UNAVAILABLE",
    `This server supports neither client metadata documents nor dynamic registration: enter a client id (and secret) registered at ${server.issuer} with redirect URI ${redirectUri}.`,
  );
}
