// The one error type of Switchboard and the dictionary of its stable codes.
// Only the error boundaries (HTTP, CLI) turn an AppError into a response; causes stay in the log.

/** Every stable error code, with the HTTP status it maps to and a safe default message. */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, message: "The request is not valid." },
  VALIDATION_FAILED: { status: 400, message: "Some fields are not valid." },
  UNAUTHENTICATED: { status: 401, message: "Sign in first." },
  INVALID_CREDENTIALS: { status: 401, message: "Wrong email or password." },
  FORBIDDEN: { status: 403, message: "You may not do this." },
  CSRF_REJECTED: { status: 403, message: "Cross-site request refused." },
  NOT_FOUND: { status: 404, message: "Not found." },
  USER_NOT_FOUND: { status: 404, message: "No such user." },
  INVITE_NOT_FOUND: { status: 404, message: "No such invite." },
  INVITE_INVALID: { status: 404, message: "This invite link is not valid: it may have expired, been used or been revoked." },
  API_KEY_NOT_FOUND: { status: 404, message: "No such API key." },
  OPERATION_NOT_FOUND: { status: 404, message: "No such operation." },
  CONNECTION_NOT_FOUND: { status: 404, message: "No such connection." },
  CONNECTION_SLUG_TAKEN: { status: 409, message: "Another connection already has this slug." },
  CONNECTION_READ_ONLY: { status: 409, message: "This connection is declared in switchboard.toml; change it there." },
  AGENT_NOT_FOUND: { status: 404, message: "No such agent." },
  AGENT_SLUG_TAKEN: { status: 409, message: "Another agent already has this slug." },
  AGENT_READ_ONLY: { status: 409, message: "This agent is declared in switchboard.toml; change it there." },
  AGENT_TOOL_COLLISION: { status: 409, message: "Two selected tools would be exposed under the same name." },
  OAUTH_CLIENT_NOT_FOUND: { status: 404, message: "No such OAuth client." },
  OAUTH_GRANT_NOT_FOUND: { status: 404, message: "No such authorized app." },
  USAGE_NOT_FOUND: { status: 404, message: "No such usage record." },
  UPSTREAM_OAUTH_UNAVAILABLE: { status: 502, message: "The upstream offers no OAuth sign-in Switchboard can use." },
  UPSTREAM_OAUTH_FAILED: { status: 502, message: "The upstream's authorization server refused or failed." },
  UPSTREAM_OAUTH_NOT_OAUTH: { status: 409, message: "This connection does not sign in with OAuth." },
  STDIO_DISABLED: { status: 403, message: "Stdio connections are disabled on this server." },
  STDIO_COMMAND_NOT_ALLOWED: { status: 403, message: "This command is not allowed for stdio connections." },
  INVALID_PERMISSIONS: { status: 400, message: "The permissions are not valid." },
  METHOD_NOT_ALLOWED: { status: 405, message: "This method is not allowed here." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Send JSON (Content-Type: application/json)." },
  USER_EXISTS: { status: 409, message: "A user with this email already exists." },
  LAST_ADMIN: { status: 409, message: "The last admin cannot be removed or demoted." },
  SETUP_DONE: { status: 410, message: "Setup is already complete." },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large." },
  TOO_MANY_ATTEMPTS: { status: 429, message: "Too many attempts. Try again later." },
  INTERNAL: { status: 500, message: "Something went wrong on our side." },
  UNAVAILABLE: { status: 503, message: "The service is not available." },
  BUSY: { status: 503, message: "Too busy right now; try again shortly." },
  UPSTREAM_AUTHORIZATION_REQUIRED: { status: 403, message: "This connection needs an OAuth authorization the caller has not given: connect the account in the admin." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP statuses the dictionary maps to: every one has a body, so renderers need no cast. */
export type ErrorStatus = (typeof ERROR_CODES)[ErrorCode]["status"];

/** An error with a stable code, the HTTP status it maps to, a safe message and optional field errors. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly fields?: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options?: { fields?: Record<string, string>; cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, { cause: options?.cause });
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    if (options?.fields) this.fields = options.fields;
  }
}

/** Returns the error as an AppError, hiding anything unexpected behind INTERNAL. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError("INTERNAL", undefined, { cause: err });
}

/**
 * An error to throw from an MCP request handler: the SDK sends its `code`, `message` and `data` as
 * the JSON-RPC error. (The SDK's McpError puts "MCP error <code>: " into its message, and clients add
 * that prefix again, so the text would read doubled.)
 */
export class JsonRpcError extends Error {
  readonly code: number;
  readonly data?: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "JsonRpcError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/** A refusal for lack of capacity (a process cap, a busy pool): the caller may retry later (HTTP 503, not 502). */
export class CapacityError extends JsonRpcError {
  constructor(message: string) {
    super(-32000, message);
    this.name = "CapacityError";
  }
}

/** `value` as an Error: an abort reason or a rejection may be anything. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * The error codes of OAuth 2.x endpoints (RFC 6749 §5.2 and §4.1.2.1, RFC 7591 §3.2.2, RFC 8707
 * §2, RFC 6750 §3.1), each with the HTTP status its endpoints answer.
 */
export const OAUTH_ERROR_CODES = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  access_denied: 403,
  temporarily_unavailable: 503,
} as const satisfies Record<string, number>;

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_CODES;

/**
 * A refusal by the authorization server, rendered by the error boundary as RFC 6749's
 * `{ "error", "error_description" }` with the code's status (never a 500: a refusal is the client's).
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: (typeof OAUTH_ERROR_CODES)[OAuthErrorCode];
  constructor(error: OAuthErrorCode, description: string, options?: { cause?: unknown }) {
    super(description, { cause: options?.cause });
    this.name = "OAuthError";
    this.error = error;
    this.status = OAUTH_ERROR_CODES[error];
  }
}
