// The signed-in user's own account: changing their password. A session-only route, on purpose not an
// operation: no API key (nor /mcp/self, nor REST) may ever change its owner's password. Wrong current
// passwords count against a sign-in-sized budget of the user's own, and the change is written to the
// audit log directly.
import { Hono, type Context } from "hono";
import { createSession } from "../../domain/access/sessions.ts";
import { changePassword, parseNewPassword, verifyPassword} from "../../domain/access/users.ts";
import { AppError } from "../../errors.ts";
import { AccountPage } from "../../../views/account.tsx";
import type { Message } from "../../../views/alert.tsx";
import { clientIp } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { recordSessionAction } from "../session-audit.ts";
import { readForm, redirectAfterPost } from "../form.ts";
import { setSessionCookie } from "../middleware/session.ts";

/** Confirmations after a redirect: a fixed flag maps to a fixed text (nothing from the query is echoed). */
const NOTICES: Record<string, string> = { changed: "Password changed. Your other sessions have ended." };

export function adminAccountRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = (c: Context<AppEnv>, message?: Message, status: 200 | 400 | 429 = 200) => c.html(AccountPage({ user: c.get("user"), message }), status);

  app.get("/", (c) => {
    const notice = Object.keys(NOTICES).find((flag) => c.req.query(flag) === "1");
    return page(c, notice ? { kind: "ok", text: NOTICES[notice]! } : undefined);
  });

  app.post("/password", async (c) => {
    const user = c.get("user");
    const form = await readForm(c);
    const ip = clientIp(c, deps.config.server.trusted_proxies);
    const refuse = (text: string, status: 400 | 429 = 400) => page(c, { kind: "error", text }, status);
    // Who, from where, and whether it was refused; never a password.
    const audit = (outcome: "ok" | "refused") =>
      recordSessionAction(c, deps, {
        userId: user.id,
        action: "PASSWORD_CHANGE",
        targetId: user.id,
        change: outcome === "ok" ? { sessions_ended: true } : { reason: "wrong current password" },
        outcome,
      });

    // What can be told without the current password is checked first, and costs no guess.
    const password = form.password ?? "";
    try {
      parseNewPassword(password);
    } catch (err) {
      if (err instanceof AppError && err.code === "VALIDATION_FAILED") return refuse(err.message);
      throw err;
    }
    if (password !== (form.confirm ?? "")) return refuse("The two new passwords differ.");

    // The sign-in throttle's limits, on a budget of this user's own (keyed by user id, never the email):
    // a stolen session cannot guess here faster than at the sign-in form, and a stranger's failed
    // sign-ins for the email (which need no session) cannot lock the signed-in owner out of this.
    const check = await deps.throttle.attempt({ account: `password-change:${user.id}`, ip }, async () =>
      (await verifyPassword(deps.db, user.id, form.current ?? "", deps.passwordCost)) ? true : null,
    );
    if (check.outcome === "throttled") {
      const seconds = Math.ceil(check.retryAfterMs / 1000);
      c.header("Retry-After", String(seconds));
      deps.logger.warn("password change throttled", { user: user.id, ip });
      return refuse(`Too many wrong passwords. Try again in ${Math.ceil(seconds / 60)} minute(s).`, 429);
    }
    if (check.outcome === "failed") {
      deps.logger.warn("password change refused: wrong current password", { user: user.id, ip });
      audit("refused");
      return refuse("The current password is wrong.");
    }

    // Every session of the user ends with the change, this one included; this browser gets a new one
    // (a new id: whatever knew the old cookie is out too).
    await changePassword(deps.db, user.id, password, new Date(), deps.passwordCost);
    const { token } = await createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: deps.config.security.session_ttl });
    await setSessionCookie(c, deps, token);
    deps.logger.info("password changed", { user: user.id });
    audit("ok");
    return redirectAfterPost(c, "/admin/account?changed=1");
  });

  return app;
}
