// The admin's one refusal policy (src/http/form-flow.ts): what is shown beside a form, and what goes to
// the error boundary instead, for every page alike.
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { formRefusal } from "../../src/http/form-flow.ts";

describe("formRefusal", () => {
  test("a refusal of what was typed is shown inline, with its status and its field errors", () => {
    const invalid = new AppError("VALIDATION_FAILED", "slug: expected a-z", { fields: { slug: "expected a-z" } });
    expect(formRefusal(invalid)).toEqual({ status: 400, message: "slug: expected a-z", fields: { slug: "expected a-z" } });
    expect(formRefusal(new AppError("CONNECTION_SLUG_TAKEN"))).toEqual({ status: 409, message: "Another connection already has this slug.", fields: {} });
    expect(formRefusal(new AppError("AGENT_TOOL_COLLISION"))?.status).toBe(409);
    // A policy refusal of a typed value (the stdio command) is about the form too.
    expect(formRefusal(new AppError("STDIO_COMMAND_NOT_ALLOWED"))?.status).toBe(403);
  });

  test("a grant beyond the caller's powers names its field, so it is shown beside the form", () => {
    const beyond = new AppError("FORBIDDEN", "A key may only hold…", { fields: { "permissions.self": "too much" } });
    expect(formRefusal(beyond)).toEqual({ status: 403, message: "A key may only hold…", fields: { "permissions.self": "too much" } });
  });

  test("the caller may not act at all, or the thing is gone: not a form refusal (the error boundary renders it)", () => {
    expect(formRefusal(new AppError("FORBIDDEN", "You may not use USER_CREATE."))).toBeNull();
    expect(formRefusal(new AppError("USER_NOT_FOUND"))).toBeNull();
    expect(formRefusal(new AppError("API_KEY_NOT_FOUND"))).toBeNull();
    expect(formRefusal(new AppError("CONNECTION_NOT_FOUND"))).toBeNull();
    expect(formRefusal(new AppError("UNAUTHENTICATED"))).toBeNull();
  });

  test("faults are never shown as a form refusal: no cause or stack reaches the page", () => {
    expect(formRefusal(new AppError("INTERNAL"))).toBeNull();
    expect(formRefusal(new Error("disk full at /var/lib/switchboard"))).toBeNull();
    expect(formRefusal("a string")).toBeNull();
  });
});
