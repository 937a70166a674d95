// Sign-in, sign-out and first-admin setup. These routes work without JavaScript; htmx only swaps the message.
import { Hono } from "hono";
import { createSession, deleteSession, findSession } from "../../domain/access/sessions.ts";
import { authenticate, countUsers, createFirstAdmin } from "../../domain/access/users.ts";
import { AppError } from "../../errors.ts";
import { FormMessage, LoginPage, SetupClosedPage, SetupPage, type SignInNotice } from "../../../views/auth.tsx";
import { clientIp } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { recordSessionAction } from "../session-audit.ts";
import { isHtmx, readForm, redirectAfterPost, safeNext } from "../form.ts";
import { setDeviceCookie, trustedDevice } from "../middleware/device-cookie.ts";
import { clearSessionCookie, readSessionToken, setSessionCookie } from "../middleware/session.ts";

/**
 * The notice the sign-in page shows, from a fixed flag the server put in the URL (after sign-out, or when
 * a stale session cookie was refused). Only the flag's presence counts: nothing of the query is shown.
 */
function noticeOf(query: Record<string, string>): SignInNotice | undefined {
  if (query.signed_out === "1") return "signed_out";
  if (query.session === "ended") return "session_ended";
  return undefined;
}

export function adminAuthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/login", async (c) => {
    if (deps.setup.isOpen() && (await countUsers(deps.db)) === 0) {
      return c.html(LoginPage({ next: "/admin", message: "No admin exists yet: open the setup link printed in the server log." }));
    }
    const token = await readSessionToken(c, deps);
    // Already signed in (say, in another tab): straight on to where sign-in would have led.
    if (token && (await findSession(deps.db, { hmacKey: deps.keys.tokenHmac, token }))) return c.redirect(safeNext(c.req.query("next")), 303);
    return c.html(LoginPage({ next: safeNext(c.req.query("next")), notice: noticeOf(c.req.query()) }));
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    const email = (form.email ?? "").trim().toLowerCase();
    const next = safeNext(form.next);
    const ip = clientIp(c, deps.config.server.trusted_proxies);
    const fail = (status: 401 | 429, message: string) =>
      isHtmx(c) ? c.html(FormMessage({ message }), status) : c.html(LoginPage({ next, email, message }), status);

    // Who tried is not known until the password checks out: a failure names only the email typed (never the
    // password). A throttled attempt is not evaluated and not recorded (a flood would fill the log).
    const audit = (outcome: "ok" | "refused", userId: string | null, change: Record<string, unknown>) =>
      recordSessionAction(c, deps, { userId, action: outcome === "ok" ? "SIGN_IN" : "SIGN_IN_FAILED", targetId: userId, change: { email: email.slice(0, 320), ...change }, outcome });

    const device = await trustedDevice(c, deps, email);
    const result = await deps.throttle.attempt({ account: email, ip, device }, () => authenticate(deps.db, email, form.password ?? "", deps.passwordCost));
    if (result.outcome === "throttled") {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      c.header("Retry-After", String(seconds));
      deps.logger.warn("sign-in throttled", { ip, trusted_device: device !== null });
      return fail(429, `Too many failed sign-ins. Try again in ${Math.ceil(seconds / 60)} minute(s).`);
    }
    if (result.outcome === "failed") {
      deps.logger.warn("sign-in failed", { ip, trusted_device: device !== null });
      audit("refused", null, {});
      // One message whether or not the account exists, so sign-in does not reveal who has one.
      return fail(401, "Wrong email or password.");
    }
    const user = result.value;
    const { token } = await createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: deps.config.security.session_ttl });
    await setSessionCookie(c, deps, token);
    await setDeviceCookie(c, deps, user.id, device);
    deps.logger.info("signed in", { user: user.id });
    audit("ok", user.id, {});
    return redirectAfterPost(c, next);
  });

  app.post("/logout", async (c) => {
    const token = await readSessionToken(c, deps);
    if (token) await deleteSession(deps.db, { hmacKey: deps.keys.tokenHmac, token });
    clearSessionCookie(c);
    // "Not you? Sign out" on the OAuth consent page: the next person signs in and returns to the request.
    const next = (await readForm(c)).next;
    return redirectAfterPost(c, next ? `/admin/login?signed_out=1&next=${encodeURIComponent(safeNext(next))}` : "/admin/login?signed_out=1");
  });

  const setupIsValid = async (token: string | undefined) => deps.setup.matches(token) && (await countUsers(deps.db)) === 0;

  app.get("/setup", async (c) => {
    const token = c.req.query("token");
    if (!(await setupIsValid(token))) return c.html(SetupClosedPage(), 404);
    return c.html(SetupPage({ token: token! }));
  });

  app.post("/setup", async (c) => {
    const form = await readForm(c);
    if (!(await setupIsValid(form.token))) return c.html(SetupClosedPage(), 404);
    const fail = (message: string) =>
      isHtmx(c) ? c.html(FormMessage({ message }), 400) : c.html(SetupPage({ token: form.token!, email: form.email, message }), 400);
    if ((form.password ?? "") !== (form.confirm ?? "")) return fail("The two passwords differ.");
    try {
      const user = await createFirstAdmin(deps.db, { email: form.email ?? "", password: form.password ?? "" }, new Date(), deps.passwordCost);
      deps.setup.close();
      const { token } = await createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: deps.config.security.session_ttl });
      await setSessionCookie(c, deps, token);
      deps.logger.info("first admin created", { user: user.id });
      recordSessionAction(c, deps, { userId: user.id, action: "SETUP_FIRST_ADMIN", targetId: user.id, change: { email: user.email, role: user.role }, outcome: "ok" });
      return redirectAfterPost(c, "/admin");
    } catch (err) {
      if (err instanceof AppError && err.code === "VALIDATION_FAILED") return fail(err.message);
      throw err;
    }
  });

  return app;
}

