// The Connections pages. Everyone signed in sees the list and each connection (secrets masked), and may
// test and refresh; only admins create, change and delete. Every action goes through the same
// operations as /mcp/self and /api/v1, with the signed-in user as the caller.
import { Hono, type Context } from "hono";
import { AppError } from "../../errors.ts";
import {
  connectionCreate,
  connectionDelete,
  connectionGet,
  connectionList,
  connectionRefresh,
  connectionTest,
  connectionUpdate,
} from "../../operations/connections.ts";
import type { ConnectionDetailView, ConnectionView } from "../../operations/connection-shapes.ts";
import { runOperation, sessionCaller, type Operation } from "../../operations/registry.ts";
import { formValuesOf, type ConnectionFormProps, type FormValues } from "../../../views/connection-form.tsx";
import { ConnectionPage, ConnectionsPage, DiscoverySection, NewConnectionPage, TestResult, type Message, type TestOutcome } from "../../../views/connections.tsx";
import { connectionInputFromForm, formFieldErrors } from "../connection-form.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm, redirectAfterPost } from "../form.ts";

type Status = 200 | 201 | 400 | 403 | 404 | 409;

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A refusal to show beside the form: a bad field, a taken slug, the stdio policy. Others go to the error boundary. */
function formRefusal(err: unknown): AppError | null {
  return err instanceof AppError && err.status < 500 && err.code !== "FORBIDDEN" && err.code !== "CONNECTION_NOT_FOUND" ? err : null;
}

/** The submitted form as it is shown again: everything but the token. */
function resubmitted(form: Record<string, string>): FormValues {
  const { token: _token, ...values } = form;
  return values;
}

export function adminConnectionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const run = (c: Context<AppEnv>, op: unknown, input: unknown) =>
    runOperation(op as Operation, { deps, caller: sessionCaller(c.get("user"), deps.catalog), now: new Date() }, input);

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
  });

  /** The connection's page, with an outcome and (after a refused save) the submitted values. */
  const connectionPage = async (
    c: Context<AppEnv>,
    id: string,
    outcome: { message?: Message; test?: TestOutcome; values?: FormValues; fieldErrors?: Record<string, string> } = {},
    status: Status = 200,
  ) => {
    const viewer = c.get("user");
    const detail = (await run(c, connectionGet, { id })) as ConnectionDetailView;
    const isAdmin = viewer.role === "admin";
    return c.html(
      ConnectionPage({
        viewer,
        c: detail,
        stderr: isAdmin ? deps.gateway.stderr(detail.id) : null,
        form: isAdmin && !detail.from_config ? formProps(detail, outcome.values ?? formValuesOf(detail), outcome.fieldErrors) : null,
        test: outcome.test,
        message: outcome.message,
      }),
      status,
    );
  };

  const parse = (form: Record<string, string>) => {
    const { input, problems } = connectionInputFromForm(form);
    if (Object.keys(problems).length > 0) {
      throw new AppError("VALIDATION_FAILED", Object.entries(problems).map(([f, m]) => `${f}: ${m}`).join("; "), { fields: problems });
    }
    return input;
  };

  /** Runs a test; htmx gets the result fragment, a plain form post the whole page around it. */
  const test = async (c: Context<AppEnv>, input: Record<string, unknown>, page: (t: TestOutcome) => Promise<Response> | Response) => {
    const result = (await run(c, connectionTest, input)) as TestOutcome;
    return isHtmx(c) ? c.html(TestResult({ result })) : page(result);
  };

  app.get("/", async (c) => {
    const { connections } = (await run(c, connectionList, {})) as { connections: ConnectionView[] };
    const message: Message | undefined = c.req.query("deleted") ? { kind: "ok", text: "Connection deleted." } : undefined;
    return c.html(ConnectionsPage({ viewer: c.get("user"), connections, message }));
  });

  app.get("/new", (c) => {
    if (c.get("user").role !== "admin") throw new AppError("FORBIDDEN", "Only admins add connections.");
    const transport = c.req.query("transport");
    return c.html(NewConnectionPage({ viewer: c.get("user"), form: formProps(null, { transport: transport === "sse" || transport === "stdio" ? transport : "http" }) }));
  });

  app.post("/", async (c) => {
    const form = await readForm(c);
    try {
      const created = (await run(c, connectionCreate, parse(form))) as ConnectionView;
      return redirectAfterPost(c, `/admin/connections/${created.id}`);
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      const page = NewConnectionPage({
        viewer: c.get("user"),
        form: formProps(null, resubmitted(form), formFieldErrors(refusal.fields)),
        message: { kind: "error", text: refusal.message },
      });
      return c.html(page, refusal.status as Status);
    }
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
      if (isHtmx(c)) return c.html(TestResult({ result: failed(refusal.message) }), refusal.status as Status);
      return render({ message: { kind: "error", text: refusal.message }, fieldErrors: formFieldErrors(refusal.fields) }, refusal.status as Status);
    }
  });

  app.get("/:id", (c) => connectionPage(c, c.req.param("id"), c.req.query("saved") ? { message: { kind: "ok", text: "Saved." } } : {}));

  app.post("/:id", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    try {
      await run(c, connectionUpdate, { ...parse(form), id });
      return redirectAfterPost(c, `/admin/connections/${id}?saved=1`);
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return connectionPage(c, id, { message: { kind: "error", text: refusal.message }, values: resubmitted(form), fieldErrors: formFieldErrors(refusal.fields) }, refusal.status as Status);
    }
  });

  /** Test of a stored connection, or (from its edit form) of unsaved changes to it. */
  app.post("/:id/test", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    const changes = form.form === "settings";
    try {
      const input = changes ? { id, connection: parse(form) } : { id };
      return await test(c, input, (result) => connectionPage(c, id, { test: result, ...(changes ? { values: resubmitted(form) } : {}) }));
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      if (isHtmx(c)) return c.html(TestResult({ result: failed(refusal.message) }), refusal.status as Status);
      return connectionPage(c, id, { message: { kind: "error", text: refusal.message }, values: changes ? resubmitted(form) : undefined, fieldErrors: formFieldErrors(refusal.fields) }, refusal.status as Status);
    }
  });

  app.post("/:id/refresh", async (c) => {
    const id = c.req.param("id");
    const detail = (await run(c, connectionRefresh, { id })) as ConnectionDetailView;
    return isHtmx(c) ? c.html(DiscoverySection({ c: detail })) : connectionPage(c, id, { message: { kind: "ok", text: "Discovery refreshed." } });
  });

  app.post("/:id/delete", async (c) => {
    const id = c.req.param("id");
    const form = await readForm(c);
    if (form.confirm !== "yes") {
      if (c.get("user").role !== "admin") throw new AppError("FORBIDDEN", "Only admins delete connections.");
      return connectionPage(c, id, { message: { kind: "error", text: "Tick the box to confirm the deletion." } }, 400);
    }
    try {
      await run(c, connectionDelete, { id });
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return connectionPage(c, id, { message: { kind: "error", text: refusal.message } }, refusal.status as Status);
    }
    return redirectAfterPost(c, "/admin/connections?deleted=1");
  });

  return app;
}

function failed(message: string): TestOutcome {
  return { ok: false, latency_ms: 0, server: null, tools: 0, resources: 0, prompts: 0, error: message };
}
