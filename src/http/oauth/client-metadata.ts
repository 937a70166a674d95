// Client ID metadata documents (MCP authorization 2025-11-25): a client_id that is an https URL names
// a JSON document describing the client, which the authorization server fetches. Any client on the
// internet chooses that URL, so the fetch is guarded against SSRF above all: https only, an optional
// host allowlist, every resolved address public, the socket pinned to the checked addresses, no
// redirects, a deadline and a byte cap. Every failure is a reason a person can act on, never a throw.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { ClientMetadata } from "../../domain/oauth/types.ts";
import { redirectUriProblem } from "../../domain/oauth/redirect-uris.ts";
import { asError } from "../../errors.ts";
import { VERSION } from "../../version.ts";
import { cacheLifetime, checkClientMetadataDocument, shown } from "./client-metadata-document.ts";
import { BodyTooLargeError, pinnedGet } from "./pinned-get.ts";
import { publicAddressProblem } from "./public-address.ts";

export type ClientMetadataResult = { ok: true; metadata: ClientMetadata; cacheForMs: number } | { ok: false; reason: string };
export type ClientMetadataFetcher = (clientId: string) => Promise<ClientMetadataResult>;

export type ClientMetadataFetcherOptions = {
  /** oauth.client_metadata_hosts: when not empty, the only hosts asked (checked before any lookup). */
  allowedHosts: readonly string[];
  /** The whole fetch (lookup, connect, TLS, headers, body); default 5 s. */
  timeoutMs?: number;
  /** Most body bytes, counted while reading; default 64 KiB. */
  maxBytes?: number;
  /** Resolves a host name to its addresses; tests inject answers (private, hostile) so no packet leaves loopback. */
  resolve?: (host: string) => Promise<string[]>;
  /** Lets http://127.0.0.1 (and other loopback) documents through, for test fixtures. No setting reaches it. */
  allowLoopbackHttpForTests?: boolean;
};

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_BYTES = 64 * 1024;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** A client_id is kept as a client's id and shown on pages; real ones are well under 200 characters. */
const MAX_URL_LENGTH = 2048;

/**
 * Why `clientId` cannot name a metadata document, or null when it can: an https URL with a path, no
 * fragment, no user or password, no `.` or `..` segment, written in its canonical form (it is compared
 * as a string with the document's client_id and kept as the client's id).
 */
export function clientMetadataUrlProblem(clientId: string, options: { allowLoopbackHttp?: boolean } = {}): string | null {
  if (clientId.length > MAX_URL_LENGTH) return `${shown(clientId, 60)} is longer than ${MAX_URL_LENGTH} characters`;
  if (!URL.canParse(clientId)) return `${shown(clientId)} is not a URL`;
  const url = new URL(clientId);
  const loopbackHttp = options.allowLoopbackHttp === true && url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !loopbackHttp) return `${shown(clientId)} is not an https URL`;
  if (clientId.includes("#")) return `${shown(clientId)} has a fragment`;
  if (url.username !== "" || url.password !== "" || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(clientId)) return `${shown(clientId)} has a user name or password`;
  // The URL parser removes dot segments (also written %2e): the raw text is checked, before it is.
  const rawPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*([^?#]*)/i.exec(clientId)?.[1] ?? "";
  if (rawPath.split(/[/\\]/).some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) return `${shown(clientId)} has a . or .. path segment`;
  if (url.pathname === "/" || url.pathname === "") return `${shown(clientId)} has no path`;
  if (url.href !== clientId) return `${shown(clientId)} is not written in its canonical form, ${shown(url.href)}`;
  return null;
}

/** The fetcher the authorization endpoint asks when a client_id is a URL. */
/**
 * Why oauth.client_metadata_hosts refuses a document URL's host, or null when it is allowed (an empty
 * list allows any host). Checked before any fetch, and again for a cached client on every use, so
 * narrowing the list takes effect at once.
 */
export function allowlistRefusal(allowedHosts: ReadonlySet<string> | readonly string[], clientId: string): string | null {
  const hosts = allowedHosts instanceof Set ? allowedHosts : new Set(allowedHosts as readonly string[]);
  if (hosts.size === 0) return null;
  let host: string;
  try {
    host = new URL(clientId).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "the client_id is not a URL";
  }
  return hosts.has(host) ? null : `${shown(host)} is not one of the hosts in oauth.client_metadata_hosts`;
}

export function createClientMetadataFetcher(options: ClientMetadataFetcherOptions): ClientMetadataFetcher {
  const settings: Settings = {
    allowedHosts: new Set(options.allowedHosts.map((h) => h.toLowerCase())),
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    resolve: options.resolve ?? resolveAll,
    allowLoopback: options.allowLoopbackHttpForTests === true,
  };
  return async (clientId) => {
    try {
      return await fetchClientMetadata(clientId, settings);
    } catch (err) {
      // Nothing below should throw; if it does, the reason still names the URL and the failure.
      return { ok: false, reason: `could not fetch ${shown(clientId)}: ${shown(asError(err).message)}` };
    }
  };
}

type Settings = {
  allowedHosts: ReadonlySet<string>;
  timeoutMs: number;
  maxBytes: number;
  resolve: (host: string) => Promise<string[]>;
  allowLoopback: boolean;
};

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

const fail = (reason: string): ClientMetadataResult => ({ ok: false, reason });

async function fetchClientMetadata(clientId: string, settings: Settings): Promise<ClientMetadataResult> {
  const urlProblem = clientMetadataUrlProblem(clientId, { allowLoopbackHttp: settings.allowLoopback });
  if (urlProblem) return fail(urlProblem);
  const url = new URL(clientId);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const at = shown(clientId);
  // The allowlist is decided on the name alone: a host not on it is never even looked up.
  const refused = allowlistRefusal(settings.allowedHosts, clientId);
  if (refused) return fail(refused);

  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error("deadline")), settings.timeoutMs);
  let stage: "resolve" | "fetch" = "resolve";
  try {
    const addresses = isIP(host) !== 0 ? [host] : await untilAborted(settings.resolve(host), deadline.signal);
    if (addresses.length === 0) return fail(`${shown(host)} does not resolve to any address`);
    // Every address is checked: which one the connection would use is not ours to predict.
    for (const address of addresses) {
      const problem = publicAddressProblem(address, { allowLoopback: settings.allowLoopback });
      if (problem) return fail(`${shown(host)} resolves to ${shown(problem)}`);
    }
    stage = "fetch";
    const answer = await pinnedGet(url, addresses, {
      signal: deadline.signal,
      maxBytes: settings.maxBytes,
      headers: { accept: "application/json", "accept-encoding": "identity", "user-agent": `Switchboard/${VERSION}` },
    });
    const refusal = answerProblem(at, answer.status, answer.headers, settings.maxBytes);
    if (refusal) {
      answer.discard();
      return fail(refusal);
    }
    const body = await answer.body();
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      return fail(`${at} is not valid JSON in UTF-8`);
    }
    const checked = checkClientMetadataDocument(clientId, document, redirectUriProblem);
    if (!checked.ok) return checked;
    return { ok: true, metadata: checked.metadata, cacheForMs: cacheLifetime(headerText(answer.headers["cache-control"])) };
  } catch (err) {
    if (deadline.signal.aborted) return fail(`${at} took longer than ${seconds(settings.timeoutMs)}`);
    if (err instanceof BodyTooLargeError) return fail(`${at} is larger than ${bytes(settings.maxBytes)}`);
    const message = shown(asError(err).message);
    return fail(stage === "resolve" ? `${shown(host)} could not be resolved: ${message}` : `could not fetch ${at}: ${message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Why the status and headers already refuse the answer (before its body is read), or null. */
function answerProblem(at: string, status: number, headers: Record<string, string | string[] | undefined>, maxBytes: number): string | null {
  // A redirect could lead anywhere, a private address included, and the document must be served at its own URL.
  if (status >= 300 && status < 400) return `${at} redirects (${status}${headers.location ? ` to ${shown(headerText(headers.location)!)}` : ""}); the document must be served at its URL itself`;
  if (status !== 200) return `${at} answered ${status}`;
  const encoding = headerText(headers["content-encoding"])?.trim().toLowerCase();
  if (encoding && encoding !== "identity") return `${at} answered with Content-Encoding ${shown(encoding, 40)}, though none was asked for`;
  const type = (headerText(headers["content-type"]) ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) return `${at} answered with Content-Type ${type === "" ? "(none)" : shown(type, 80)}, not JSON`;
  // Announced too large: refused before a byte is read (a smaller announcement is not trusted either).
  const length = headerText(headers["content-length"]);
  if (length !== undefined && /^\d+$/.test(length) && Number(length) > maxBytes) return `${at} is larger than ${bytes(maxBytes)}`;
  return null;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Settles with `promise`, or rejects when `signal` aborts first (a resolver that never answers). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(asError(signal.reason));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function bytes(n: number): string {
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}
