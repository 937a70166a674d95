// POST /oauth/register (RFC 7591): a public client registers its redirect URIs and name. Each URI is
// checked on its own and a refusal names it, since clients such as Cursor register several at once.
import { Hono } from "hono";
import { registerClient } from "../../domain/oauth/clients.ts";
import { redirectUriProblem } from "../../domain/oauth/redirect-uris.ts";
import type { ClientMetadata } from "../../domain/oauth/types.ts";
import { singleLineProblem } from "../../domain/text.ts";
import { AppError, OAuthError } from "../../errors.ts";
import { clientIp } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { readJsonObject } from "./body.ts";
import { AddressThrottle } from "./throttle.ts";

const MAX_REDIRECT_URIS = 10;
const MAX_NAME_LENGTH = 200;
const MAX_URL_LENGTH = 2000;
const GRANT_TYPES = ["authorization_code", "refresh_token"];
const RESPONSE_TYPES = ["code"];

/** Registrations per client address per window: enough for a team behind one NAT, not for a flood of rows. */
export const REGISTRATIONS_PER_WINDOW = 30;
const WINDOW_MS = 60 * 60_000;

export function registerRoutes(deps: AppDeps, throttle = new AddressThrottle(REGISTRATIONS_PER_WINDOW, WINDOW_MS)): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/", async (c) => {
    const wait = throttle.take(clientIp(c, deps.config.server.trusted_proxies));
    if (wait > 0) {
      c.header("Retry-After", String(Math.ceil(wait / 1000)));
      throw new AppError("TOO_MANY_ATTEMPTS", "Too many client registrations from this address; try again later.");
    }
    const request = await readJsonObject(c, "invalid_client_metadata");
    const metadata = clientMetadataFrom(request);
    const client = await registerClient(deps.db, metadata);
    deps.logger.info("oauth client registered", { client: client.id });
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        client_id: client.id,
        client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
        redirect_uris: client.redirectUris,
        client_name: client.name,
        grant_types: GRANT_TYPES,
        response_types: RESPONSE_TYPES,
        // RFC 7591 §3.2.1: the server may replace what was asked; every client here is public (PKCE).
        token_endpoint_auth_method: "none",
        ...(client.clientUri ? { client_uri: client.clientUri } : {}),
        ...(client.logoUri ? { logo_uri: client.logoUri } : {}),
      },
      201,
    );
  });
  return app;
}

/** The registration request checked field by field (RFC 7591 §2), each refusal naming what is wrong. */
export function clientMetadataFrom(request: Record<string, unknown>): ClientMetadata {
  const uris = request.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_REDIRECT_URIS) {
    throw new OAuthError("invalid_redirect_uri", `redirect_uris is required: a list of 1 to ${MAX_REDIRECT_URIS} URIs.`);
  }
  for (const uri of uris) {
    if (typeof uri !== "string") throw new OAuthError("invalid_redirect_uri", "redirect_uris: every entry must be a string.");
    const problem = redirectUriProblem(uri);
    if (problem !== null) throw new OAuthError("invalid_redirect_uri", `redirect_uri ${JSON.stringify(uri)} is refused: ${problem}`);
  }
  for (const [field, allowed] of [["grant_types", GRANT_TYPES], ["response_types", RESPONSE_TYPES]] as const) {
    const value = request[field];
    if (value === undefined) continue;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || !allowed.includes(v))) {
      throw new OAuthError("invalid_client_metadata", `${field} may only contain ${allowed.map((v) => JSON.stringify(v)).join(" and ")}.`);
    }
  }
  const method = request.token_endpoint_auth_method;
  if (method !== undefined && typeof method !== "string") throw new OAuthError("invalid_client_metadata", "token_endpoint_auth_method must be a string.");
  return { name: clientName(request.client_name), redirectUris: [...new Set(uris as string[])], clientUri: webUrl(request, "client_uri"), logoUri: webUrl(request, "logo_uri") };
}

function clientName(value: unknown): string {
  if (value === undefined || value === null) return "Unnamed client";
  if (typeof value !== "string") throw new OAuthError("invalid_client_metadata", "client_name must be a string.");
  const name = value.trim();
  if (name.length > MAX_NAME_LENGTH) throw new OAuthError("invalid_client_metadata", `client_name is longer than ${MAX_NAME_LENGTH} characters.`);
  const problem = singleLineProblem(name);
  if (problem !== null) throw new OAuthError("invalid_client_metadata", `client_name ${problem}.`);
  return name === "" ? "Unnamed client" : name;
}

/** An optional informational URL; only http(s), so a javascript: link can never reach a page. */
function webUrl(request: Record<string, unknown>, field: "client_uri" | "logo_uri"): string | null {
  const value = request[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length > MAX_URL_LENGTH || !URL.canParse(value)) throw new OAuthError("invalid_client_metadata", `${field} must be an http(s) URL.`);
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new OAuthError("invalid_client_metadata", `${field} must be an http(s) URL.`);
  return url.href;
}
