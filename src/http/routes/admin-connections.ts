// The Connections pages. Everyone signed in sees the list and each connection (secrets masked), and may
// test and refresh, and the page's status polls itself while the connection settles; only admins create,
// change and delete. Every action goes through the same operations as /mcp/self and /api/v1, with the
// signed-in user as the caller.
import { Hono, type Context } from "hono";
import { AppError, type ErrorStatus } from "../../errors.ts";
import {
  connectionCreate,
  connectionDelete,
  connectionGet,
  connectionList,
  connectionRefresh,
  connectionTest,
  connectionUpdate,
} from "../../operations/connections.ts";
import type { ConnectionView } from "../../operations/connection-shapes.ts";
import { formValuesOf, type ConnectionFormProps, type FormValues } from "../../../views/connection-form.tsx";
import type { Message } from "../../../views/alert.tsx";
import type { OAuthNotice } from "../../../views/connection-oauth.tsx";
import { UPSTREAM_CALLBACK_PATH } from "../../domain/connections/oauth-types.ts";
import { connectionOAuthLinks } from "../../operations/connection-oauth.ts";
import {
  ConnectionPage,
  ConnectionsPage,
  LiveFragment,
  liveFingerprint,
  NewConnectionPage,
  RefreshedFragment,
  settling,
  TestResult,
  type ConnectionNotice,
  type ConnectionPageProps,
  type TestOutcome,
} from "../../../views/connections.tsx";
import { connectionInputFromForm, formFieldErrors } from "../connection-form.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { confirmedDelete, formRefusal, mayUse, requireOperation, runAsUser, submitForm } from "../form-flow.ts";

type Status = ErrorStatus | 200;

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The submitted form as it is shown again: everything but the secrets (token, client secret). */
function resubmitted(form: Record<string, string>): FormValues {
  const { token: _token, oauth_client_secret: _secret, ...values } = form;
  return values;
}

/** What a connection's page shows besides the connection: a notice, an outcome beside what produced it, the values of a refused save. */
export type ConnectionOutcome = Pick<ConnectionPageProps, "notice" | "test" | "formResult" | "deleteMessage" | "discoveryMessage"> & {
  values?: FormValues;
  fieldErrors?: Record<string, string>;
  /** The OAuth panel's notice after a redirect back, or why an authorization could not start. */
  oauthNotice?: OAuthNotice;
  oauthMessage?: Message;
};

/** The connection form's props and the connection's page, for these routes and the OAuth ones (admin-connection-oauth.ts). */
export function connectionPages(deps: AppDeps): {
  formProps: (connection: ConnectionView | null, values: FormValues, fieldErrors?: Record<string, string>) => ConnectionFormProps;
  page: (c: Context<AppEnv>, id: string, outcome?: ConnectionOutcome, status?: Status) => Promise<Response>;
} {
  const formProps = (connection: ConnectionView | null, values: FormValues, fieldErrors?: Record<string, string>): ConnectionFormProps => ({
    connection,
    values,
    fieldErrors,
    defaults: {
      connectTimeout: duration(deps.config.gateway.connect_timeout),
      callTimeout: duration(deps.config.gateway.call_timeout),
      maxProcesses: deps.config.gateway.stdio_max_processes,
    },
    stdio: { enabled: deps.config.stdio.enabled, allowedCommands: deps.config.stdio.allowed_commands },
    callbackUrl: `${deps.config.server.public_url.replace(/\/+$/, "")}${UPSTREAM_CALLBACK_PATH}`,
  });

  /** The connection's page, with an outcome and (after a refused save) the submitted values. */
  const page = async (c: Context<AppEnv>, id: string, outcome: ConnectionOutcome = {}, status: Status = 200) => {
    const viewer = c.get("user");
    const detail = await runAsUser(c, deps, connectionGet, { id });
    // The OAuth panel's links, as the viewer may see them (a member: the shared one and their own).
    const links = detail.auth === "oauth" ? (await runAsUser(c, deps, connectionOAuthLinks, { connection: detail.id })).links : [];
    // Who may change the connection sees its form and its process's stderr (which can name its secrets).
    const mayEdit = mayUse(c, deps, connectionUpdate);
    const { values, fieldErrors, oauthNotice, oauthMessage, ...shown } = outcome;
    return c.html(
      ConnectionPage({
        viewer,
        c: detail,
        stderr: mayEdit ? deps.gateway.stderr(detail.id) : null,
        publicUrl: deps.config.server.public_url,
        oauth: deps.config.oauth.enabled,
        form: mayEdit && !detail.from_config ? formProps(detail, values ?? formValuesOf(detail), fieldErrors) : null,
        now: new Date(),
        oauthPanel: { links, notice: oauthNotice, message: oauthMessage },
        ...shown,
      }),
      status,
    );
  };
  return { formProps, page };
}

export function adminConnectionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { formProps, page: connectionPage } = connectionPages(deps);
  type Outcome = ConnectionOutcome;

  const parse = (form: Record<string, string>) => {
    const { input, problems } = connectionInputFromForm(form);
    if (Object.keys(problems).length > 0) {
      throw new AppError("VALIDATION_FAILED", Object.entries(problems).map(([f, m]) => `${f}: ${m}`).join("; "), { fields: problems });
    }
    return input;
  };

  /** Runs a test; htmx gets the result fragment, a plain form post the whole page around it. */
  const test = async (c: Context<AppEnv>, input: Record<string, unknown>, page: (t: TestOutcome) => Promise<Response> | Response) => {
    const result = await runAsUser(c, deps, connectionTest, input);
    return isHtmx(c) ? c.html(TestResult({ result })) : page(result);
  };

  app.get("/", async (c) => {
    const { connections } = await runAsUser(c, deps, connectionList, {});
    const message: Message | undefined = c.req.query("deleted") ? { kind: "ok", text: "Connection deleted." } : undefined;
    return c.html(ConnectionsPage({ viewer: c.get("user"), connections, message }));
  });

  app.get("/new", (c) => {
    requireOperation(c, deps, connectionCreate);
    const transport = c.req.query("transport");
    return c.html(NewConnectionPage({ viewer: c.get("user"), form: formProps(null, { transport: transport === "sse" || transport === "stdio" ? transport : "http" }) }));
  });

  app.post("/", async (c) => {
    const form = await readForm(c);
    return submitForm(c, deps, connectionCreate, () => parse(form), {
      done: (created) => `/admin/connections/${created.id}?created=1`,
      refused: (refusal) =>
        c.html(
          NewConnectionPage({
            viewer: c.get("user"),
            form: formProps(null, resubmitted(form), formFieldErrors(refusal.fields)),
            message: { kind: "error", text: refusal.message },
          }),
          refusal.status,
        ),
    });
  });

  /** Test of the new-connection form, before anything is saved. */
  app.post("/test", async (c) => {
    const form = await readForm(c);
    const render = (outcome: { test?: TestOutcome; message?: Message; fieldErrors?: Record<string, string> }, status: Status = 200) =>
      c.html(NewConnectionPage({ viewer: c.get("user"), form: formProps(null, resubmitted(form), outcome.fieldErrors), ...outcome }), status);
    try {
      return await test(c, { connection: parse(form) }, (result) => render({ test: result }));
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      if (isHtmx(c)) return c.html(TestResult({ result: failed(refusal.message) }), refusal.status);
      return render({ message: { kind: "error", text: refusal.message }, fieldErrors: formFieldErrors(refusal.fields) }, refusal.status);
    }
  });

  app.get("/:id", (c) => {
    // Fixed flags, fixed texts: nothing of the query is written into the page.
    const notice: ConnectionNotice | undefined = c.req.query("created") ? "created" : c.req.query("saved") ? "saved" : undefined;
    const oauth = c.req.query("oauth");
    const oauthNotice: OAuthNotice | undefined = oauth === "connected" || oauth === "disconnected" ? oauth : undefined;
    return connectionPage(c, c.req.param("id"), { notice, oauthNotice });
  });

  /**
   * The status of a settling connection, polled by its page (LiveStatus). 204 while nothing the page
   * shows has changed since the fingerprint it names (`seen`, only ever compared), so htmx swaps nothing
   * and polling goes on; otherwise the status and the discovery section as they are now. Outside htmx (a
   * browser sent here as sign-in's `next` after the session ended mid-poll): the connection's page.
   */
  app.get("/:id/status", async (c) => {
    if (!c.req.header("hx-request")) return c.redirect(`/admin/connections/${encodeURIComponent(c.req.param("id"))}`, 303);
    const detail = await runAsUser(c, deps, connectionGet, { id: c.req.param("id") });
    const now = new Date();
    if (settling(detail, now) && c.req.query("seen") === liveFingerprint(detail)) return c.body(null, 204);
    return c.html(LiveFragment({ c: detail, now, viewer: c.get("user") }));
  });

  app.post("/:id", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    return submitForm(c, deps, connectionUpdate, () => ({ ...parse(form), id }), {
      done: () => `/admin/connections/${id}?saved=1`,
      refused: (refusal) =>
        connectionPage(c, id, { formResult: { message: { kind: "error", text: refusal.message } }, values: resubmitted(form), fieldErrors: formFieldErrors(refusal.fields) }, refusal.status),
    });
  });

  /** Test of a stored connection, or (from its edit form) of unsaved changes to it. */
  app.post("/:id/test", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    const changes = form.form === "settings";
    try {
      const input = changes ? { id, connection: parse(form) } : { id };
      return await test(c, input, (result) => connectionPage(c, id, changes ? { formResult: { test: result }, values: resubmitted(form) } : { test: result }));
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      if (isHtmx(c)) return c.html(TestResult({ result: failed(refusal.message) }), refusal.status);
      const message: Message = { kind: "error", text: refusal.message };
      const shown: Outcome = changes ? { formResult: { message }, values: resubmitted(form), fieldErrors: formFieldErrors(refusal.fields) } : { test: failed(refusal.message) };
      return connectionPage(c, id, shown, refusal.status);
    }
  });

  app.post("/:id/refresh", async (c) => {
    const id = c.req.param("id");
    const detail = await runAsUser(c, deps, connectionRefresh, { id });
    return isHtmx(c) ? c.html(RefreshedFragment({ c: detail, now: new Date(), viewer: c.get("user") })) : connectionPage(c, id, { discoveryMessage: { kind: "ok", text: "Discovery refreshed." } });
  });

  app.post("/:id/delete", (c) =>
    confirmedDelete(c, deps, connectionDelete, { id: c.req.param("id") }, {
      done: "/admin/connections?deleted=1",
      page: (text, status) => connectionPage(c, c.req.param("id"), { deleteMessage: { kind: "error", text } }, status),
    }),
  );

  return app;
}

function failed(message: string): TestOutcome {
  return { ok: false, latency_ms: 0, server: null, tools: 0, resources: 0, prompts: 0, error: message };
}
