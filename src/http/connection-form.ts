// Reading the admin's connection form into the input of CONNECTION_CREATE / CONNECTION_UPDATE /
// CONNECTION_TEST. The fields of the transport not chosen are cleared, so switching transport works
// and hidden fields never count. An empty token (or client secret) field keeps the stored one. With
// OAuth the bearer token is cleared (the OAuth token is the Authorization); without it the OAuth client
// settings are.
import { parseDuration } from "../config/units.ts";

export type ParsedConnectionForm = { input: Record<string, unknown>; problems: Record<string, string> };

function lines(text: string | undefined): string[] {
  return (text ?? "").split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
}

/** "Name: value" (headers) or "NAME=value" (env) lines → a table; bad lines become problems. */
function pairs(text: string | undefined, separator: ":" | "=", field: string, problems: Record<string, string>): Record<string, string> {
  const table: Record<string, string> = {};
  lines(text).forEach((line, i) => {
    const at = line.indexOf(separator);
    if (at <= 0) {
      problems[field] = `line ${i + 1}: expected ${separator === ":" ? '"Name: value"' : '"NAME=value"'}`;
      return;
    }
    table[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return table;
}

function milliseconds(text: string, field: string, problems: Record<string, string>): number | null | undefined {
  if (text === "") return null;
  const ms = parseDuration(text);
  if (ms === null) problems[field] = 'expected a duration such as "10s" or "500ms"';
  return ms ?? undefined;
}

/** The operation input a submitted connection form describes. */
export function connectionInputFromForm(form: Record<string, string>): ParsedConnectionForm {
  const problems: Record<string, string> = {};
  const text = (name: string) => (form[name] ?? "").trim();
  const transport = text("transport") || "http";
  const input: Record<string, unknown> = { slug: text("slug"), title: text("title"), description: text("description"), transport };
  if (form.enabled_shown !== undefined) input.enabled = form.enabled === "1";
  if (form.record_payloads_shown !== undefined) input.record_payloads = form.record_payloads === "1";
  if (transport === "stdio") {
    Object.assign(input, {
      command: text("command") || null,
      args: lines(form.args),
      cwd: text("cwd") || null,
      env: pairs(form.env, "=", "env", problems),
      isolation: text("isolation") || "shared",
      max_processes: text("max_processes") === "" ? null : Number(text("max_processes")),
      url: null,
      token: null,
      headers: {},
      auth: "static",
      oauth_client_id: null,
      oauth_client_secret: null,
      oauth_scopes: null,
    });
  } else {
    Object.assign(input, {
      url: text("url") || null,
      headers: pairs(form.headers, ":", "headers", problems),
      command: null,
      args: [],
      cwd: null,
      env: {},
      isolation: "shared",
      max_processes: null,
    });
    const auth = text("auth") || "static";
    input.auth = auth;
    input.oauth_mode = text("oauth_mode") || "shared";
    if (auth === "oauth") {
      input.token = null;
      input.oauth_client_id = text("oauth_client_id") || null;
      input.oauth_scopes = text("oauth_scopes").split(/\s+/).filter((s) => s !== "").join(" ") || null;
      if (form.oauth_client_secret_clear === "1") input.oauth_client_secret = null;
      else if ((form.oauth_client_secret ?? "") !== "") input.oauth_client_secret = form.oauth_client_secret;
    } else {
      Object.assign(input, { oauth_client_id: null, oauth_client_secret: null, oauth_scopes: null });
      if (form.token_clear === "1") input.token = null;
      else if ((form.token ?? "") !== "") input.token = form.token;
    }
  }
  input.connect_timeout_ms = milliseconds(text("connect_timeout"), "connect_timeout", problems);
  input.call_timeout_ms = milliseconds(text("call_timeout"), "call_timeout", problems);
  return { input, problems };
}

/** Field errors of the operations named as the form names its fields. */
export function formFieldErrors(fields: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(fields ?? {})) {
    out[field.replace(/^connection\./, "").replace(/_ms$/, "")] = message;
  }
  return out;
}
