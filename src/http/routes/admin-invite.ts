// The invite link, /admin/invite/<token>, for someone not signed in: the page to choose a password, and
// its post, which creates the user and signs them in. Every try is throttled like a sign-in (per client
// address), and every link that does not work gets the same 404 page, whatever the reason.
import { createHash } from "node:crypto";
import { Hono, type Context } from "hono";
import { acceptInvite, findInvite, type Invite } from "../../domain/access/invites.ts";
import { createSession, deleteSession } from "../../domain/access/sessions.ts";
import { AppError } from "../../errors.ts";
import { InviteClosedPage, InvitePage } from "../../../views/invite.tsx";
import { clientIp } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { recordSessionAction } from "../session-audit.ts";
import { readForm, redirectAfterPost } from "../form.ts";
import { readSessionToken, setSessionCookie } from "../middleware/session.ts";

/**
 * The throttle's "account" for a link: a digest of its token (no token is held in memory). Each link is
 * its own account, so one link's bad tries never lock out another's invitee; the address's count (the
 * same one sign-in uses) is what stops a guesser.
 */
function throttleAccount(token: string): string {
  return `invite:${createHash("sha256").update(token).digest("base64url").slice(0, 22)}`;
}

export function adminInviteRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const closed = (c: Context<AppEnv>) => c.html(InviteClosedPage({}), 404);

  /** The live invite the link names, counted by the sign-in throttle: a Response when there is none (or too many tries). */
  const openInvite = async (c: Context<AppEnv>, token: string): Promise<Invite | Response> => {
    const ip = clientIp(c, deps.config.server.trusted_proxies);
    const result = await deps.throttle.attempt({ account: throttleAccount(token), ip }, async () => findInvite(deps.db, deps.keys.tokenHmac, token));
    if (result.outcome === "throttled") {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      c.header("Retry-After", String(seconds));
      deps.logger.warn("invite link throttled", { ip });
      return c.html(InviteClosedPage({ throttled: { minutes: Math.ceil(seconds / 60) } }), 429);
    }
    if (result.outcome === "failed") return closed(c);
    return result.value;
  };

  app.get("/:token", async (c) => {
    const token = c.req.param("token");
    const invite = await openInvite(c, token);
    if (invite instanceof Response) return invite;
    return c.html(InvitePage({ token, email: invite.email, role: invite.role }));
  });

  app.post("/:token", async (c) => {
    const token = c.req.param("token");
    const invite = await openInvite(c, token);
    if (invite instanceof Response) return invite;
    const form = await readForm(c);
    const again = (message: string, status: 400 | 409) => c.html(InvitePage({ token, email: invite.email, role: invite.role, message }), status);
    const password = form.password ?? "";
    if (password !== (form.confirm ?? "")) return again("The two passwords differ.", 400);

    let user;
    try {
      user = await acceptInvite(deps.db, deps.keys.tokenHmac, { token, password }, new Date(), deps.passwordCost);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === "VALIDATION_FAILED") return again(err.message, 400);
      // Spent by another request a moment ago (or revoked, or expired, since the page was read).
      if (err.code === "INVITE_INVALID") return closed(c);
      if (err.code === "USER_EXISTS") return again("An account with this email already exists: sign in instead.", 409);
      throw err;
    }
    // A browser signed in as someone else is now the new user's only: the earlier session ends.
    const earlier = await readSessionToken(c, deps);
    if (earlier) await deleteSession(deps.db, { hmacKey: deps.keys.tokenHmac, token: earlier });
    const { token: session } = await createSession(deps.db, { hmacKey: deps.keys.tokenHmac, userId: user.id, ttlMs: deps.config.security.session_ttl });
    await setSessionCookie(c, deps, session);
    deps.logger.info("invite accepted", { user: user.id, invite: invite.id });
    recordSessionAction(c, deps, {
      userId: user.id,
      action: "USER_INVITE_ACCEPT",
      targetId: user.id,
      change: { invite: invite.id, email: user.email, role: user.role, invited_by: invite.invitedBy?.id ?? null },
      outcome: "ok",
    });
    return redirectAfterPost(c, "/admin");
  });

  return app;
}
