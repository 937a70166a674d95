// The admin's one form flow: run the operation as the signed-in user, then redirect (or render) on
// success, show a refusal of what was typed beside the form with the input kept, and send every other
// refusal (the caller may not, the thing is gone) to the error boundary. Every admin page refuses alike.
import type { Context } from "hono";
import type { z } from "zod";
import { AppError, type ErrorStatus } from "../errors.ts";
import { mayRun, runOperation, sessionCaller, type ObjectSchema, type Operation } from "../operations/registry.ts";
import { requestOrigin } from "./client-ip.ts";
import type { AppDeps, AppEnv } from "./context.ts";
import { readForm, redirectAfterPost } from "./form.ts";

/** A refusal to show beside the form: the operation's message, its status, and its errors by field. */
export type FormRefusal = { status: ErrorStatus; message: string; fields: Record<string, string> };

/**
 * The one refusal policy of the admin. Inline: every 4xx about what was submitted (a bad field, a
 * taken slug, a collision, a grant beyond the caller's powers, which names its field). To the error
 * boundary: a FORBIDDEN that names no field (the caller may not run this at all: nothing to correct in
 * the form), a 404 (the thing acted on is gone or not theirs: no form to show it in), and 5xx.
 */
export function formRefusal(err: unknown): FormRefusal | null {
  if (!(err instanceof AppError) || err.status >= 500 || err.status === 401 || err.status === 404) return null;
  if (err.code === "FORBIDDEN" && err.fields === undefined) return null;
  return { status: err.status, message: err.message, fields: err.fields ?? {} };
}

/**
 * Runs an operation for the signed-in user: the registry decides what they may do, on every page. The
 * input is what the form says, unchecked: the operation's own schema is the one validation.
 */
export function runAsUser<I extends ObjectSchema, O extends ObjectSchema>(c: Context<AppEnv>, deps: AppDeps, op: Operation<I, O>, input: unknown): Promise<z.output<O>> {
  return runOperation(op, { deps, caller: sessionCaller(c.get("user"), deps.catalog), now: new Date(), origin: requestOrigin(c, deps.config.server.trusted_proxies, "admin") }, input);
}

/** Whether the signed-in user may run an operation: what a page offers (a form, a button) follows the registry. */
export function mayUse(c: Context<AppEnv>, deps: AppDeps, op: Pick<Operation, "name">): boolean {
  return mayRun(sessionCaller(c.get("user"), deps.catalog), op);
}

/** Refuses (403, to the error boundary) a form page for an operation the signed-in user may not run. */
export function requireOperation(c: Context<AppEnv>, deps: AppDeps, op: Pick<Operation, "name">): void {
  if (!mayUse(c, deps, op)) throw new AppError("FORBIDDEN", `You may not use ${op.name}.`);
}

export type FormOutcome<O> = {
  /** After a save: a path to redirect to (303, or HX-Redirect for htmx), or a response of its own. */
  done: (output: O) => string | Response | Promise<string | Response>;
  /** The form again, with the refusal beside it and what was typed kept. */
  refused: (refusal: FormRefusal) => Response | Promise<Response>;
};

/** One form post: run the operation; redirect or render on success; re-render a refusal of the input. */
export async function submitForm<I extends ObjectSchema, O extends ObjectSchema>(
  c: Context<AppEnv>,
  deps: AppDeps,
  op: Operation<I, O>,
  input: () => unknown,
  outcome: FormOutcome<z.output<O>>,
): Promise<Response> {
  let output: z.output<O>;
  try {
    // The input is built inside: a form the page itself refuses (bad JSON, a bad line) is refused alike.
    output = await runAsUser(c, deps, op, input());
  } catch (err) {
    const refusal = formRefusal(err);
    if (!refusal) throw err;
    return outcome.refused(refusal);
  }
  const next = await outcome.done(output);
  return typeof next === "string" ? redirectAfterPost(c, next) : next;
}

/**
 * A delete behind a "tick to confirm" box (`confirm=yes`): unconfirmed, nothing runs and the page
 * says so (400), but only to someone who may delete at all; confirmed, the form flow above.
 */
export async function confirmedDelete<I extends ObjectSchema, O extends ObjectSchema>(
  c: Context<AppEnv>,
  deps: AppDeps,
  op: Operation<I, O>,
  input: unknown,
  options: { done: string; page: (message: string, status: ErrorStatus) => Response | Promise<Response> },
): Promise<Response> {
  if ((await readForm(c)).confirm !== "yes") {
    requireOperation(c, deps, op);
    return options.page("Tick the box to confirm the deletion.", 400);
  }
  return submitForm(c, deps, op, () => input, { done: () => options.done, refused: (r) => options.page(r.message, r.status) });
}
