// Test users and their admin sessions: users inserted directly or with a real password, and session
// cookies made directly, read from a response, or obtained by signing in through the real form.
import { randomUUID } from "node:crypto";
import { serializeSigned } from "hono/utils/cookie";
import { tables } from "../../src/db/store.ts";
import { createSession } from "../../src/domain/access/sessions.ts";
import { createUser, type PasswordCost, type Role, type User } from "../../src/domain/access/users.ts";
import type { AppDeps } from "../../src/http/context.ts";
import { SESSION_COOKIE } from "../../src/http/middleware/session.ts";

/**
 * The argon2id cost every test builder hashes passwords at: the smallest argon2 allows, so a sign-in
 * costs microseconds instead of 64 MiB and ~100 ms. Only users.test.ts checks the production cost.
 */
export const TEST_PASSWORD_COST: PasswordCost = { memoryCost: 8, timeCost: 1 };

/** The password users made with createSignInUser sign in with (unless given another). */
export const PASSWORD = "correct horse battery";

/** Inserts a user without hashing a real password (they cannot sign in); cheap enough for tables of tests. */
export async function insertUser(deps: Pick<AppDeps, "db">, role: Role, email = `${role}-${randomUUID().slice(0, 8)}@example.com`): Promise<User> {
  const now = new Date();
  const row = { id: `user_${randomUUID()}`, email, role, passwordHash: "!", createdAt: now, updatedAt: now };
  await deps.db.insert(tables(deps.db).users).values(row);
  return { id: row.id, email, role, createdAt: now };
}

/** Creates a user (through the domain, argon2 at the deps' cost) who signs in with `password`. */
export function createSignInUser(deps: Pick<AppDeps, "db" | "passwordCost">, email: string, role: Role, password = PASSWORD): Promise<User> {
  return createUser(deps.db, { email, role, password }, new Date(), deps.passwordCost);
}

/** The `name=value` pair of the session cookie a response sets, or null. */
export function sessionCookieFrom(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(";", 1)[0]!;
    if (pair.startsWith(`${SESSION_COOKIE}=`) && pair.length > SESSION_COOKIE.length + 1) return pair;
  }
  return null;
}

/** The `sb_session=…` pair for a cookie value signed with `key`, exactly as the server would set it. */
export async function signedSessionCookie(value: string, key: Uint8Array<ArrayBuffer>): Promise<string> {
  return (await serializeSigned(SESSION_COOKIE, value, key)).split(";", 1)[0]!;
}

/** A session cookie (`sb_session=…`) for `user`, made directly: no sign-in round trip, no password check. */
export async function sessionCookieFor(deps: Pick<AppDeps, "db" | "keys">, user: User, ttlMs: number): Promise<string> {
  const { token } = await createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs });
  return signedSessionCookie(token, deps.keys.cookie);
}

/** A form-encoded POST body. */
export function form(fields: Record<string, string>): { method: "POST"; body: URLSearchParams } {
  return { method: "POST", body: new URLSearchParams(fields) };
}

/** Signs in through POST /admin/login (sent with `request`) and returns the `sb_session=…` cookie pair. */
export async function signIn(request: (path: string, init?: RequestInit) => Promise<Response>, email: string, password = PASSWORD): Promise<string> {
  const res = await request("/admin/login", form({ email, password, next: "/admin" }));
  const cookie = sessionCookieFrom(res);
  if (res.status !== 303 || cookie === null) throw new Error(`sign-in as ${email} failed with ${res.status}: ${await res.text()}`);
  return cookie;
}
