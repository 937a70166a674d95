// The create and edit form of a connection. Every field is in the page; the stylesheet hides the
// fieldset of the transport not chosen, and the server ignores it, so the form works without JS.
// Secrets are never put back into the page: the token field stays empty, header and env values read "********".
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { ConnectionView } from "../src/operations/connection-shapes.ts";

export const MASK = "********";

/** What the form shows: a stored connection's settings, or what was just submitted. */
export type FormValues = Record<string, string>;

/** The form values of a stored connection; secrets masked. */
export function formValuesOf(c: ConnectionView): FormValues {
  const seconds = (ms: number | null) => (ms === null ? "" : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return {
    slug: c.slug,
    title: c.title,
    description: c.description,
    transport: c.transport,
    enabled: c.enabled ? "1" : "",
    record_payloads: c.record_payloads ? "1" : "",
    url: c.url ?? "",
    headers: Object.keys(c.headers).map((name) => `${name}: ${MASK}`).join("\n"),
    command: c.command ?? "",
    args: c.args.join("\n"),
    cwd: c.cwd ?? "",
    env: Object.keys(c.env).map((name) => `${name}=${MASK}`).join("\n"),
    isolation: c.isolation,
    max_processes: c.max_processes === null ? "" : String(c.max_processes),
    auth: c.auth,
    oauth_mode: c.oauth?.mode ?? "shared",
    oauth_client_id: c.oauth?.client_id ?? "",
    oauth_scopes: c.oauth?.scopes ?? "",
    connect_timeout: seconds(c.connect_timeout_ms),
    call_timeout: seconds(c.call_timeout_ms),
  };
}

export type ConnectionFormProps = {
  /** null for a new connection. */
  connection: ConnectionView | null;
  values: FormValues;
  /** Problems by field name, shown beside the field. */
  fieldErrors?: Record<string, string>;
  defaults: { connectTimeout: string; callTimeout: string; maxProcesses: number };
  stdio: { enabled: boolean; allowedCommands: string[] };
  /** Switchboard's OAuth callback at its public URL: what to register at a server that needs a client id entered by hand. */
  callbackUrl: string;
  /** The result box beside the buttons: what the last save or test answered (the page fills it). */
  result?: Child;
};

function FieldError(props: { errors?: Record<string, string>; name: string }) {
  const found = Object.entries(props.errors ?? {}).filter(([field]) => field === props.name || field.startsWith(`${props.name}.`));
  return found.length === 0 ? null : <div class="field-error" role="alert">{found.map(([field, message]) => `${field}: ${message}`).join("; ")}</div>;
}

function Text(props: { name: string; label: string; values: FormValues; errors?: Record<string, string>; placeholder?: string; type?: string; required?: boolean; hint?: string }) {
  return (
    <div>
      <label for={`c-${props.name}`}>{props.label}</label>
      <input id={`c-${props.name}`} name={props.name} type={props.type ?? "text"} value={props.values[props.name] ?? ""} placeholder={props.placeholder} required={props.required} />
      {props.hint && <div class="muted small">{props.hint}</div>}
      <FieldError errors={props.errors} name={props.name} />
    </div>
  );
}

function Area(props: { name: string; label: string; values: FormValues; errors?: Record<string, string>; placeholder: string; hint: string }) {
  return (
    <div>
      <label for={`c-${props.name}`}>{props.label}</label>
      <textarea id={`c-${props.name}`} name={props.name} rows={3} placeholder={props.placeholder}>{props.values[props.name] ?? ""}</textarea>
      <div class="muted small">{props.hint}</div>
      <FieldError errors={props.errors} name={props.name} />
    </div>
  );
}

/**
 * The OAuth settings (shown when Authentication is OAuth): whose account, and the client settings a
 * server needs only when Switchboard cannot register itself there. The secret is never put back.
 */
function OAuthFields(props: ConnectionFormProps) {
  const c = props.connection;
  const v = props.values;
  const secretSet = c?.oauth?.client_secret_set === true;
  return (
    <div class="auth-oauth">
      <fieldset class="choices">
        <legend>Whose account</legend>
        <label class="check">
          <input type="radio" name="oauth_mode" value="shared" checked={v.oauth_mode !== "per_user"} /> Shared: one account an admin authorizes for every caller
        </label>
        <label class="check">
          <input type="radio" name="oauth_mode" value="per_user" checked={v.oauth_mode === "per_user"} /> Per user: each user connects their own account
        </label>
        <FieldError errors={props.fieldErrors} name="oauth_mode" />
      </fieldset>
      <details class="advanced" open={Boolean(v.oauth_client_id || v.oauth_scopes || props.fieldErrors?.oauth_client_id || props.fieldErrors?.oauth_client_secret || props.fieldErrors?.oauth_scopes) || undefined}>
        <summary>Advanced: client id, secret and scopes</summary>
        <p class="muted small">
          Needed only if the server supports neither client metadata documents nor dynamic registration: register Switchboard there
          with this redirect URI, then enter the client id (and secret) it gives you.
        </p>
        <div>
          <div class="field-label">Callback URL to register</div>
          <div><code id="c-callback-url">{props.callbackUrl}</code> <button type="button" class="secondary small" data-copy="#c-callback-url">Copy</button></div>
        </div>
        <Text name="oauth_client_id" label="Client id" values={v} errors={props.fieldErrors} placeholder="optional" />
        <div>
          <label for="c-oauth_client_secret">Client secret</label>
          <input id="c-oauth_client_secret" name="oauth_client_secret" type="password" autocomplete="off" value="" placeholder={secretSet ? `${MASK} (set; leave empty to keep)` : "optional (confidential clients)"} />
          {secretSet && (
            <label class="check"><input type="checkbox" name="oauth_client_secret_clear" value="1" /> Remove the stored client secret</label>
          )}
          <div class="muted small">Stored encrypted and never shown again.</div>
          <FieldError errors={props.fieldErrors} name="oauth_client_secret" />
        </div>
        <Text name="oauth_scopes" label="Scopes" values={v} errors={props.fieldErrors} placeholder="as the server advertises" hint="Space-separated; empty asks for the scopes the server advertises." />
      </details>
    </div>
  );
}

/** The form: POSTs to /admin/connections (create) or /admin/connections/:id (save). */
export function ConnectionForm(props: ConnectionFormProps) {
  const c = props.connection;
  const v = props.values;
  const action = c ? `/admin/connections/${c.id}` : "/admin/connections";
  const testAction = c ? `/admin/connections/${c.id}/test` : "/admin/connections/test";
  const transport = v.transport || "http";
  return (
    // data-busy: both buttons are disabled while either runs; each names its own busy text (data-busy-label,
    // see assets/js/feedback.js.txt). "Test these settings" answers beside the buttons, in the result box.
    <form class="panel connection-form" method="post" action={action} data-busy={c ? "Saving…" : "Creating…"}>
      <h2 class="panel-title">{c ? "Edit settings" : "New connection"}</h2>
      <input type="hidden" name="form" value="settings" />
      <div class="row">
        <Text name="slug" label="Slug" values={v} errors={props.fieldErrors} placeholder="github" required hint="a-z, 0-9 and -; unique" />
        <Text name="title" label="Title" values={v} errors={props.fieldErrors} placeholder="defaults to the slug" />
        <div>
          <label for="c-transport">Transport</label>
          <select id="c-transport" name="transport">
            <option value="http" selected={transport === "http"}>http (Streamable HTTP)</option>
            <option value="sse" selected={transport === "sse"}>sse (legacy HTTP+SSE)</option>
            <option value="stdio" selected={transport === "stdio"}>stdio (a command on this host)</option>
          </select>
          <FieldError errors={props.fieldErrors} name="transport" />
        </div>
      </div>
      <Text name="description" label="Description" values={v} errors={props.fieldErrors} placeholder="What this server offers" />
      <label class="check">
        <input type="hidden" name="enabled_shown" value="1" />
        <input type="checkbox" name="enabled" value="1" checked={c === null || v.enabled === "1"} /> Enabled (calls are refused while disabled)
      </label>
      <label class="check">
        <input type="hidden" name="record_payloads_shown" value="1" />
        <input type="checkbox" name="record_payloads" value="1" checked={v.record_payloads === "1"} /> Record arguments and results (kept in the usage log, capped, with this connection's secrets masked)
      </label>
      <p class="muted small transport-note">Only the fields of the chosen transport are used; the others are ignored.</p>

      <fieldset class="builder" data-for="http">
        <legend>http and sse</legend>
        <Text name="url" label="URL" values={v} errors={props.fieldErrors} placeholder="https://mcp.example.com/mcp" type="url" />
        <div>
          <label for="c-auth">Authentication</label>
          <select id="c-auth" name="auth">
            <option value="static" selected={v.auth !== "oauth"}>Token and headers</option>
            <option value="oauth" selected={v.auth === "oauth"}>OAuth (sign in at the server)</option>
          </select>
          <FieldError errors={props.fieldErrors} name="auth" />
        </div>
        <OAuthFields {...props} />
        <div class="auth-static">
          <label for="c-token">Bearer token</label>
          <input id="c-token" name="token" type="password" autocomplete="off" value="" placeholder={c?.token_set ? `${MASK} (set; leave empty to keep)` : "optional"} />
          {c?.token_set && (
            <label class="check"><input type="checkbox" name="token_clear" value="1" /> Remove the stored token</label>
          )}
          <div class="muted small">Sent upstream as <code>Authorization: Bearer …</code>; stored encrypted and never shown again.</div>
          <FieldError errors={props.fieldErrors} name="token" />
        </div>
        <Area name="headers" label="Headers" values={v} errors={props.fieldErrors} placeholder="X-Team: platform"
          hint={`One "Name: value" per line; stored encrypted. Keep "${MASK}" to keep a stored value; delete a line to remove the header. With OAuth, no Authorization header: the OAuth token is sent as that.`} />
      </fieldset>

      <fieldset class="builder" data-for="stdio">
        <legend>stdio</legend>
        {!props.stdio.enabled && <div class="alert error">Stdio connections are disabled on this server (<code>stdio.enabled = false</code>).</div>}
        <Text name="command" label="Command" values={v} errors={props.fieldErrors} placeholder="npx"
          hint={props.stdio.allowedCommands.length > 0 ? `Allowed: ${props.stdio.allowedCommands.join(", ")}` : "Runs on this host as the Switchboard user; any command is allowed (stdio.allowed_commands is empty)."} />
        <Area name="args" label="Arguments" values={v} errors={props.fieldErrors} placeholder={"-y\n@modelcontextprotocol/server-everything"} hint="One argument per line." />
        <Text name="cwd" label="Working directory" values={v} errors={props.fieldErrors} placeholder="/srv/mcp (absolute; optional)" />
        <Area name="env" label="Environment" values={v} errors={props.fieldErrors} placeholder="API_KEY=…"
          hint={`One NAME=value per line; the process gets only these plus PATH. Stored encrypted; keep "${MASK}" to keep a stored value.`} />
        <div class="row">
          <div>
            <label for="c-isolation">Isolation</label>
            <select id="c-isolation" name="isolation">
              <option value="shared" selected={v.isolation !== "session"}>shared: one process for every session</option>
              <option value="session" selected={v.isolation === "session"}>session: one process per session</option>
            </select>
          </div>
          <Text name="max_processes" label="Max processes (session)" values={v} errors={props.fieldErrors} type="number" placeholder={`default ${props.defaults.maxProcesses}`} />
        </div>
      </fieldset>

      <div class="row">
        <Text name="connect_timeout" label="Connect timeout" values={v} errors={props.fieldErrors} placeholder={`default ${props.defaults.connectTimeout}`} />
        <Text name="call_timeout" label="Call timeout" values={v} errors={props.fieldErrors} placeholder={`default ${props.defaults.callTimeout}`} />
      </div>
      <div class="row form-actions">
        <button type="submit" data-busy-label={c ? "Saving…" : "Creating…"}>{c ? "Save" : "Create connection"}</button>
        <button type="submit" class="secondary" formaction={testAction} hx-post={testAction} hx-target="#settings-result" hx-swap="innerHTML" data-busy-label="Testing…">
          Test these settings
        </button>
      </div>
      {props.result}
    </form>
  );
}
