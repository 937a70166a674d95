// The parameters of a POST to the token and revocation endpoints: form-encoded (RFC 6749 §4.1.3), or
// JSON for the clients that send it (and the registration's JSON object). Only strings; a repeated parameter is refused (RFC 6749 §3.2).
import type { Context } from "hono";
import { OAuthError } from "../../errors.ts";
import type { AppEnv } from "../context.ts";

/** The body's parameters as single strings; anything malformed is `invalid_request`, never a 500. */
export async function readOAuthParams(c: Context<AppEnv>): Promise<Record<string, string>> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  let entries: [string, unknown][];
  if (type.startsWith("application/json")) {
    entries = Object.entries(await readJsonObject(c, "invalid_request"));
  } else {
    let body: Record<string, unknown>;
    try {
      body = await c.req.parseBody({ all: true });
    } catch (err) {
      throw new OAuthError("invalid_request", "The request body is not a valid form.", { cause: err });
    }
    entries = Object.entries(body);
  }
  const params: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (Array.isArray(value)) throw new OAuthError("invalid_request", `The parameter ${name} is repeated.`);
    // Numbers and the like are not parameters of these endpoints: ignored, as unknown parameters are (RFC 6749 §3.2).
    if (typeof value === "string") params[name] = value;
  }
  return params;
}

/** A JSON object body; anything else is `error` (invalid_request, or invalid_client_metadata for a registration), never a 500. */
export async function readJsonObject(c: Context<AppEnv>, error: "invalid_request" | "invalid_client_metadata"): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (err) {
    throw new OAuthError(error, "The request body is not valid JSON (Content-Type: application/json).", { cause: err });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new OAuthError(error, "The request body must be a JSON object.");
  return body as Record<string, unknown>;
}

/** A required parameter, or `invalid_request` naming it. */
export function requiredParam(params: Record<string, string>, name: string): string {
  const value = params[name];
  if (value === undefined || value === "") throw new OAuthError("invalid_request", `The parameter ${name} is required.`);
  return value;
}
