// Switchboard's client ID metadata document: who Switchboard is as an OAuth client of its upstreams'
// authorization servers, served at its public URL, whose address is then its client_id (CIMD).
import { CLIENT_METADATA_PATH, UPSTREAM_CALLBACK_PATH } from "../../../domain/connections/oauth-types.ts";

/** `path` under the public URL (which may carry a path prefix of its own). */
export function publicUrlOf(publicUrl: string, path: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${path}`;
}

/** The callback Switchboard registers and sends to authorization servers as redirect_uri. */
export function upstreamCallbackUrl(publicUrl: string): string {
  return publicUrlOf(publicUrl, UPSTREAM_CALLBACK_PATH);
}

/** Switchboard's client_id where a server accepts metadata documents: the document's own URL. */
export function clientMetadataUrl(publicUrl: string): string {
  return publicUrlOf(publicUrl, CLIENT_METADATA_PATH);
}

/**
 * Whether servers can fetch the document and trust it: the spec wants an https client_id; http on a
 * loopback address is what a server on the same machine (a developer's, a test's) can still reach.
 */
export function mayUseClientMetadata(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && (url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname));
}

export type ClientMetadataDocument = {
  client_id: string;
  client_name: string;
  client_uri: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: "none";
};

/** The document: a public client (no secret to keep), with the one callback it may be sent back to. */
export function clientMetadataDocument(publicUrl: string): ClientMetadataDocument {
  return {
    client_id: clientMetadataUrl(publicUrl),
    client_name: "Switchboard",
    client_uri: publicUrl.replace(/\/+$/, ""),
    redirect_uris: [upstreamCallbackUrl(publicUrl)],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
}
