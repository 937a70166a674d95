// The one place that turns errors into responses: JSON for APIs, an HTML page or fragment for the admin.
// Clients see the code and a safe message; the cause goes to the log, never a stack trace to the client.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, toAppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ErrorFragment, ErrorPage } from "../../views/error.tsx";

function asAppError(err: unknown): AppError {
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError("PAYLOAD_TOO_LARGE");
    if (err.status === 400) return new AppError("BAD_REQUEST", undefined, { cause: err });
  }
  if (err instanceof SyntaxError) return new AppError("BAD_REQUEST", "The request body is not valid.", { cause: err });
  return toAppError(err);
}

/** Renders `err` for the client in the form the route speaks. */
export function renderError(c: Context, err: unknown, logger: Logger): Response | Promise<Response> {
  const error = asAppError(err);
  if (error.code === "INTERNAL") logger.error("unhandled error", { method: c.req.method, path: c.req.path, error: error.cause ?? err });
  if (c.req.path === "/admin" || c.req.path.startsWith("/admin/")) {
    if (c.req.header("hx-request")) return c.html(ErrorFragment({ error }), error.status as 400);
    return c.html(ErrorPage({ error }), error.status as 400);
  }
  const body: { error: { code: string; message: string; fields?: Record<string, string> } } = {
    error: { code: error.code, message: error.message },
  };
  if (error.fields) body.error.fields = error.fields;
  return c.json(body, error.status as 400);
}
