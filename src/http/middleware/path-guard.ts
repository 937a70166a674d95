// Refuses request paths that no route can mean (bad percent-encoding, control or bidi characters)
// before any route sees them, and gives the one canonical form of a path for anything echoed back.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.ts";

// C0 and C1 controls, DEL, and the bidi overrides and isolates: no id, slug or asset name holds one,
// and echoed into a header or a log they break it (CR/LF/NUL) or disguise it (bidi).
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const LONE_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** The path of `url` as sent, still percent-encoded, without the query. */
export function rawPathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  const hash = url.indexOf("#", start);
  const ends = [query, hash].filter((i) => i !== -1);
  return url.slice(start, ends.length > 0 ? Math.min(...ends) : undefined);
}

/** Why `rawPath` (percent-encoded) is refused, or null when it is acceptable. */
export function badPathReason(rawPath: string): string | null {
  if (LONE_PERCENT.test(rawPath)) return "The request path has an invalid percent-encoding.";
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return "The request path is not valid UTF-8.";
  }
  if (FORBIDDEN.test(decoded)) return "The request path holds control characters.";
  return null;
}

/**
 * The canonical form of `rawPath` (as sent, percent-encoded): each segment decoded, then encoded
 * again, so only unreserved characters, "/" and %XX remain and it can go into a quoted header
 * parameter or a URL as is. Total: a segment that does not decode is encoded as it stands.
 */
export function canonicalPath(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => {
      try {
        return encodeURIComponent(decodeURIComponent(segment));
      } catch {
        return encodeURIComponent(segment);
      }
    })
    .join("/");
}

/** Answers 400 for a path that is malformed or holds characters no route accepts. */
export function pathGuard(): MiddlewareHandler {
  return async (c, next) => {
    // "CONNECT *" or "OPTIONS *" reach here with "*" as the URL: no route serves an authority or
    // asterisk form, and rebuilding the request from it would throw.
    if (!URL.canParse(c.req.url)) throw new AppError("BAD_REQUEST", "The request URL (its path or Host) is not valid.");
    const reason = badPathReason(rawPathOf(c.req.url));
    if (reason !== null) throw new AppError("BAD_REQUEST", reason);
    await next();
  };
}
