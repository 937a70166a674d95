// The sign-in device cookie (OWASP "device cookies"): set after a successful sign-in, it names the
// user and a random device id, signed with a key of its own. A later sign-in to that same account
// that carries it is counted against the device, not the account, so strangers cannot lock the
// owner out. It grants nothing by itself: the password is still checked.
import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { getSignedCookie, setSignedCookie } from "hono/cookie";
import { findUserByEmail } from "../../domain/access/users.ts";
import type { AppDeps, AppEnv } from "../context.ts";

export const DEVICE_COOKIE = "sb_device";
const DEVICE_COOKIE_PATH = "/admin/login";
const DEVICE_COOKIE_MAX_AGE = 180 * 24 * 60 * 60; // seconds; a browser used at least twice a year stays trusted

/** The device id of a correctly signed device cookie issued to the account `email`, or null. */
export async function trustedDevice(c: Context<AppEnv>, deps: AppDeps, email: string): Promise<string | null> {
  const value = await getSignedCookie(c, deps.keys.device, DEVICE_COOKIE);
  if (typeof value !== "string") return null;
  const dot = value.lastIndexOf(".");
  const device = value.slice(dot + 1);
  // The cookie names a user id; it counts only for the account being signed in to.
  if (dot <= 0 || device.length === 0 || value.slice(0, dot) !== (await findUserByEmail(deps.db, email))?.id) return null;
  return device;
}

/** Sets (or renews) the device cookie for `userId`: HttpOnly, sent only to the sign-in form. */
export async function setDeviceCookie(c: Context<AppEnv>, deps: AppDeps, userId: string, device: string | null): Promise<void> {
  const id = device ?? randomBytes(18).toString("base64url");
  await setSignedCookie(c, DEVICE_COOKIE, `${userId}.${id}`, deps.keys.device, {
    path: DEVICE_COOKIE_PATH,
    httpOnly: true,
    sameSite: "Strict",
    secure: deps.config.server.public_url.startsWith("https:"),
    maxAge: DEVICE_COOKIE_MAX_AGE,
  });
}
