// Endpoint test tables in the PocketBase style: each row names a request and what its response must
// (and must not) contain, and runScenario turns it into one `test`.
import { expect } from "bun:test";

export type Scenario<Ctx> = {
  name: string;
  method?: string;
  url: string;
  /** Request headers; a function sees the context built for the row (to add a session cookie, say). */
  headers?: Record<string, string> | ((ctx: Ctx) => Record<string, string>);
  body?: BodyInit | ((ctx: Ctx) => BodyInit);
  expectedStatus: number;
  /** Substrings the body must contain. */
  expectedContent?: string[];
  /** Substrings the body must not contain. */
  notExpectedContent?: string[];
  /** Response headers that must equal (string) or match (RegExp) the given value; null means absent. */
  expectedHeaders?: Record<string, string | RegExp | null>;
  /** Extra checks after the response, e.g. that nothing changed in the database. */
  after?: (ctx: Ctx, res: Response, body: string) => void | Promise<void>;
};

/** Sends the row's request through `send` and checks the response against the row. */
export async function runScenario<Ctx>(
  row: Scenario<Ctx>,
  ctx: Ctx,
  send: (url: string, init: RequestInit) => Promise<Response>,
): Promise<void> {
  const headers = typeof row.headers === "function" ? row.headers(ctx) : row.headers;
  const body = typeof row.body === "function" ? row.body(ctx) : row.body;
  const res = await send(row.url, { method: row.method ?? "GET", headers, body, redirect: "manual" });
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 500) }).toMatchObject({ status: row.expectedStatus });
  for (const wanted of row.expectedContent ?? []) expect(text).toContain(wanted);
  for (const unwanted of row.notExpectedContent ?? []) expect(text).not.toContain(unwanted);
  for (const [name, value] of Object.entries(row.expectedHeaders ?? {})) {
    const actual = res.headers.get(name);
    if (value === null) expect(actual).toBeNull();
    else if (typeof value === "string") expect(actual).toBe(value);
    else expect(actual ?? "").toMatch(value);
  }
  await row.after?.(ctx, res, text);
}
