// What both engines take, and what a refusal may say: text PostgreSQL can store as SQLite does, and a
// failed statement's reason as the driver gave it, without drizzle's copy of the statement's values.

/** A string as both engines can store it: PostgreSQL's text refuses U+0000, which SQLite keeps. */
export function storableText<T extends string | null>(text: T): T {
  return (text !== null && text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text) as T;
}

/**
 * Why a statement failed, as the driver said it (drizzle's error's `cause`, with PostgreSQL's SQLSTATE),
 * never drizzle's own message: that one quotes every param of the statement (password hashes, users'
 * addresses, client names). An error drizzle did not wrap is the driver's, and said as it is.
 */
export function driverReason(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const reason = cause instanceof Error ? cause : err instanceof Error && !("params" in err) ? err : null;
  if (!reason) return "the database refused the statement";
  const code = (reason as { errno?: unknown }).errno;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? `${reason.message} (SQLSTATE ${code})` : reason.message;
}
