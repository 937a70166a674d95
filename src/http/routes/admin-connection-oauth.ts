// The admin's side of connections with auth = "oauth": Authorize (shared account, admins), Connect your
// account (per user, any signed-in user, for themselves), Disconnect, and the "Connected accounts" page.
// Reads and disconnects go through the operations; starting an authorization calls the authorizer itself
// (see `begin`). Mounted under /admin behind the session guard and the CSRF defence.
import { Hono, type Context } from "hono";
import { AppError, type ErrorStatus } from "../../errors.ts";
import type { OAuthSubject } from "../../domain/connections/oauth-types.ts";
import { connectionOAuthDisconnect, oauthAccountsList } from "../../operations/connection-oauth.ts";
import type { Message } from "../../../views/alert.tsx";
import { AuthorizeRedirectPage, ConnectedAccountsPage, type ConnectedAccountsProps } from "../../../views/connected-accounts.tsx";
import type { OAuthNotice } from "../../../views/connection-oauth.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { readForm, redirectAfterPost } from "../form.ts";
import { runAsUser } from "../form-flow.ts";
import { newFlowBinding, setFlowCookie } from "../oauth/upstream-flow-cookie.ts";
import { connectionPages } from "./admin-connections.ts";

export const ACCOUNTS = "/admin/connected-accounts";

/** Where a refusal to start is shown: beside the button that was clicked, on its page. */
export type Origin = { kind: "connection"; id: string } | { kind: "accounts"; id: string };

/** A start refusal worth showing beside the button (discovery refused, no way to register), or null for the error boundary. */
function startRefusal(err: unknown): string | null {
  // A 403 (not theirs to authorize) and a 404 (no such connection) are pages of their own; 5xx go to the boundary.
  if (!(err instanceof AppError) || err.status === 401 || err.status === 403 || err.status === 404) return null;
  return err.message;
}

/** The path a redirect back lands on, with a fixed flag: the page reads the account from the link itself. */
export function backTo(origin: Origin, flag: OAuthNotice): string {
  const id = encodeURIComponent(origin.id);
  return origin.kind === "connection" ? `/admin/connections/${id}?oauth=${flag}#oauth` : `${ACCOUNTS}?oauth=${flag}&connection=${id}#${id}`;
}

export function adminConnectionOAuthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { page: connectionPage } = connectionPages(deps);

  const accountsPage = async (c: Context<AppEnv>, extra: Pick<ConnectedAccountsProps, "notice" | "refusal"> = {}, status: ErrorStatus | 200 = 200) => {
    const { accounts } = await runAsUser(c, deps, oauthAccountsList, {});
    return c.html(ConnectedAccountsPage({ viewer: c.get("user"), accounts, ...extra }), status);
  };

  /**
   * Starts an authorization for `subject` and sends the browser to the authorization server. The one
   * place the admin calls the authorizer rather than an operation: the flow is bound to this browser by
   * the cookie set on this very response, which no API caller (a key, a script) has, so starting a flow
   * is not an operation. Who may start it is checked here (shared: admins) and again by the authorizer
   * (per user: only the user themselves; the subject kind must match the connection's mode).
   */
  const begin = async (c: Context<AppEnv>, connectionId: string, subject: OAuthSubject, origin: Origin): Promise<Response> => {
    const user = c.get("user");
    const returnTo = origin.kind === "connection" ? `/admin/connections/${connectionId}` : ACCOUNTS;
    const binding = newFlowBinding(deps);
    let url: string;
    try {
      ({ authorizationUrl: url } = await deps.upstreamAuth.start({ connectionId, subject, userId: user.id, bindingHash: binding.hash, returnTo }));
    } catch (err) {
      const text = startRefusal(err);
      if (text === null) throw err;
      const message: Message = { kind: "error", text };
      const status = (err as AppError).status;
      return origin.kind === "connection" ? connectionPage(c, connectionId, { oauthMessage: message }, status) : accountsPage(c, { refusal: { connectionId, message } }, status);
    }
    setFlowCookie(c, deps, binding.value);
    // Not a 303: the admin's CSP (form-action 'self') also covers where a form post is redirected, so a
    // redirect to the authorization server would be blocked. This page sends the browser on instead.
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    return c.html(AuthorizeRedirectPage({ url }));
  };

  app.post("/connections/:id/oauth/authorize", (c) => {
    // The shared account serves every caller: only an admin may choose it.
    if (c.get("user").role !== "admin") throw new AppError("FORBIDDEN", "Only admins authorize a connection's shared account.");
    const id = c.req.param("id");
    return begin(c, id, "shared", { kind: "connection", id });
  });

  /** Disconnects a link from the connection's page: the shared one or a user's (the operation decides who may). */
  app.post("/connections/:id/oauth/disconnect", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    const subject = form.subject ?? "";
    await runAsUser(c, deps, connectionOAuthDisconnect, subject === "" ? { connection: id } : { connection: id, subject });
    return redirectAfterPost(c, backTo({ kind: "connection", id }, "disconnected"));
  });

  app.get("/connected-accounts", (c) => {
    const flag = c.req.query("oauth");
    const connectionId = c.req.query("connection");
    // A fixed flag and an id only compared with the user's own rows: nothing of the query is written as text.
    const kind: OAuthNotice | undefined = flag === "connected" || flag === "disconnected" ? flag : undefined;
    const notice = kind && connectionId ? { connectionId, kind } : undefined;
    return accountsPage(c, { notice });
  });

  /** "Connect your account": always for the signed-in user themselves. */
  app.post("/connected-accounts/:id/connect", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    const subject = c.get("user").id as OAuthSubject;
    return begin(c, id, subject, { kind: form.from === "connection" ? "connection" : "accounts", id });
  });

  /** Disconnects the signed-in user's own link (no subject: the operation takes the caller's own). */
  app.post("/connected-accounts/:id/disconnect", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    await runAsUser(c, deps, connectionOAuthDisconnect, { connection: id });
    return redirectAfterPost(c, backTo({ kind: form.from === "connection" ? "connection" : "accounts", id }, "disconnected"));
  });

  return app;
}
