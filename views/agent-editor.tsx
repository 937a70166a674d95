// The agent editor: name and instructions, then every connection with its tools to tick (search box,
// select-all, alias and description per tool) and its resources and prompts; and the fragment htmx
// swaps in on every change: the names it would expose and any collision, checked without saving.
// Works without JS: "Check" and "Save" are plain form posts.
/** @jsxImportSource hono/jsx */
import type { AgentDraft, AgentSelectionDraft } from "../src/operations/agent-shapes.ts";
import type { ConnectionOffersView } from "../src/operations/tools.ts";
import type { ToolSelection } from "../src/domain/agents/tools.ts";

/** A connection as the editor offers it: what it was last discovered to offer. */
export type EditorConnection = ConnectionOffersView;

/** The outcome of the live check. */
export type CheckOutcome = { problems: string[]; collisions: string[]; exposed: string[]; missing: string[] };

export type AgentEditorProps = {
  /** null for a new agent. */
  agentId: string | null;
  /** The agent as being edited: AGENT_CREATE's own input (so the view imports nothing from http). */
  draft: AgentDraft;
  connections: EditorConnection[];
  check?: CheckOutcome;
  fieldErrors?: Record<string, string>;
};

/** The check's verdict, swapped into #agent-check. */
export function CheckResult(props: { check: CheckOutcome }) {
  const { problems, collisions, exposed, missing } = props.check;
  const trouble = [...collisions, ...problems];
  return (
    <div id="check-outcome">
      {trouble.length > 0 ? (
        <div class="alert error">
          <strong>{collisions.length > 0 ? "Name collision: this agent cannot be saved yet." : "This agent cannot be saved yet."}</strong>
          <ul>{trouble.map((line) => <li>{line}</li>)}</ul>
        </div>
      ) : (
        <div class="alert ok">No collisions. It would expose {exposed.length} tool{exposed.length === 1 ? "" : "s"}{exposed.length > 0 ? ": " : "."}{exposed.map((name, i) => <>{i > 0 && ", "}<code>{name}</code></>)}</div>
      )}
      {missing.length > 0 && <p class="muted small">Selected but not offered now (left out until the upstream offers them again): {missing.join(", ")}</p>}
    </div>
  );
}

function FieldError(props: { errors?: Record<string, string>; name: string }) {
  const found = Object.entries(props.errors ?? {}).filter(([field]) => field === props.name);
  return found.length === 0 ? null : <div class="field-error" role="alert">{found.map(([, message]) => message).join("; ")}</div>;
}

type Row = { name: string; description: string; pick: ToolSelection | null; missing: boolean };

/** The rows of a connection: what it offers, then what is selected but no longer offered. */
function rowsOf(c: EditorConnection, selection: AgentSelectionDraft | undefined): Row[] {
  const picks = selection && selection.tools !== "all" ? selection.tools : [];
  const all = selection?.tools === "all";
  // TOOL_LIST gives only valid tool names (discovery dropped the rest), so every tool becomes a row.
  const rows: Row[] = c.tools.map((t) => ({ name: t.name, description: t.description, pick: all ? { name: t.name } : (picks.find((p) => p.name === t.name) ?? null), missing: false }));
  for (const pick of picks) if (!c.tools.some((t) => t.name === pick.name)) rows.push({ name: pick.name, description: "", pick, missing: true });
  return rows;
}

function ListChoice(props: { kind: "res" | "prm"; id: string; label: string; value: "all" | "none" | string[]; offered: string[]; hint: string }) {
  const mode = Array.isArray(props.value) ? "list" : props.value;
  return (
    <div>
      <label for={`${props.kind}-${props.id}`}>{props.label}</label>
      <select id={`${props.kind}-${props.id}`} name={`${props.kind}.${props.id}`}>
        <option value="none" selected={mode === "none"}>none</option>
        <option value="all" selected={mode === "all"}>all</option>
        <option value="list" selected={mode === "list"}>only those listed</option>
      </select>
      <textarea name={`${props.kind}_list.${props.id}`} rows={2} placeholder={props.hint} aria-label={`${props.label}: list`}>{Array.isArray(props.value) ? props.value.join("\n") : ""}</textarea>
      {props.offered.length > 0 && <div class="muted small">Offered: {props.offered.slice(0, 20).join(", ")}{props.offered.length > 20 ? ` +${props.offered.length - 20}` : ""}</div>}
    </div>
  );
}

function ConnectionChoice(props: { c: EditorConnection; selection: AgentSelectionDraft | undefined }) {
  const { c, selection } = props;
  const rows = rowsOf(c, selection);
  return (
    <fieldset class="builder agent-connection" id={`conn-${c.id}`}>
      <legend><strong>{c.title}</strong> <code>{c.slug}</code>{selection && <span class="badge">selected</span>}</legend>
      <input type="hidden" name={`conn.${c.id}`} value="1" />
      {c.discovery_error && <div class="alert error small">Last discovery failed: {c.discovery_error}</div>}
      <div class="row">
        <label class="check"><input type="radio" name={`mode.${c.id}`} value="pick" checked={selection?.tools !== "all"} /> Only the ticked tools</label>
        <label class="check"><input type="radio" name={`mode.${c.id}`} value="all" checked={selection?.tools === "all"} /> All its tools, including ones it adds later (no aliases)</label>
        <button type="button" class="secondary small" data-check-all={`#tools-${c.id}`}>Select all</button>
      </div>
      {rows.length === 0 ? (
        <p class="muted small">No tools discovered yet: test or refresh the connection, or choose "All its tools".</p>
      ) : (
        <div class="table-scroll">
        <table class="compact agent-tools" id={`tools-${c.id}`}>
          <thead><tr><th></th><th>Tool</th><th>Expose as (alias)</th><th>Description override</th></tr></thead>
          <tbody>
            {rows.map((row, k) => (
              <tr data-search={`${row.name} ${row.description}`.toLowerCase()}>
                <td><input type="checkbox" name={`tool.${c.id}.${k}`} value={row.name} checked={row.pick !== null} aria-label={`Select ${c.slug}/${row.name}`} /></td>
                <td><code>{row.name}</code>{row.missing && <span class="badge state-error">missing</span>}{row.description && <div class="muted small">{row.description}</div>}</td>
                <td><input type="text" name={`alias.${c.id}.${k}`} value={row.pick?.alias ?? ""} placeholder={row.name} aria-label={`Alias of ${c.slug}/${row.name}`} /></td>
                <td><input type="text" name={`desc.${c.id}.${k}`} value={row.pick?.description ?? ""} placeholder="the upstream's" aria-label={`Description of ${c.slug}/${row.name}`} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <div class="row">
        <ListChoice kind="res" id={c.id} label="Resources" value={selection?.resources ?? "none"} offered={c.resources} hint={"URI patterns, one per line (* matches anything)"} />
        <ListChoice kind="prm" id={c.id} label="Prompts" value={selection?.prompts ?? "none"} offered={c.prompts} hint="Prompt names, one per line" />
      </div>
    </fieldset>
  );
}

/**
 * The editor: POSTs to /admin/agents (create) or /admin/agents/:id (save); every change asks
 * /admin/agents/check. The live check is sent by an element outside the form (including the form's
 * fields), so the form's busy state (data-busy) follows Save and "Check names" only, never the check
 * that runs as the user types.
 */
export function AgentEditor(props: AgentEditorProps) {
  const d = props.draft;
  const action = props.agentId ? `/admin/agents/${props.agentId}` : "/admin/agents";
  const selected = new Map(d.connections.map((s) => [s.connection, s]));
  // The agent's own connections first, in its order (the order tools are listed in), then the others.
  const ordered = [
    ...d.connections.map((s) => props.connections.find((c) => c.id === s.connection)).filter((c): c is EditorConnection => c !== undefined),
    ...props.connections.filter((c) => !selected.has(c.id)),
  ];
  return (
    <>
    <form class="panel agent-editor" id="agent-form" method="post" action={action} data-busy={props.agentId ? "Saving…" : "Creating…"}>
      <h2 style="margin-top:0">{props.agentId ? "Edit agent" : "New agent"}</h2>
      <input type="hidden" name="agent_id" value={props.agentId ?? ""} />
      <div class="row">
        <div>
          <label for="a-slug">Slug</label>
          <input id="a-slug" name="slug" type="text" value={d.slug} placeholder="support" required />
          <div class="muted small">a-z, 0-9 and -; also its URL: /mcp/agent/&lt;slug&gt;</div>
          <FieldError errors={props.fieldErrors} name="slug" />
        </div>
        <div><label for="a-title">Title</label><input id="a-title" name="title" type="text" value={d.title} placeholder="defaults to the slug" /><FieldError errors={props.fieldErrors} name="title" /></div>
      </div>
      <label for="a-description">Description</label>
      <input id="a-description" name="description" type="text" value={d.description} placeholder="What this agent is for" />
      <label for="a-instructions">Instructions</label>
      <textarea id="a-instructions" name="instructions" rows={3} placeholder="Sent to MCP clients as the server's instructions">{d.instructions}</textarea>
      <FieldError errors={props.fieldErrors} name="instructions" />
      <label class="check">
        <input type="hidden" name="enabled_shown" value="1" />
        <input type="checkbox" name="enabled" value="1" checked={d.enabled} /> Enabled (sessions are refused while disabled)
      </label>
      <label class="check"><input type="checkbox" name="prefix_tools" value="1" checked={d.prefix_tools} /> Prefix every tool with its connection's slug (<code>github__search_issues</code>), so names never collide</label>
      <label class="check"><input type="checkbox" name="record_payloads" value="1" checked={d.record_payloads} /> Record arguments and results (kept in the usage log, capped, with the connections' secrets masked)</label>

      <h2>Tools</h2>
      <input type="search" class="tool-search" data-filter=".agent-editor" placeholder="Search tools by name or description" aria-label="Search tools" />
      {ordered.length === 0 ? (
        <div class="empty-state" id="editor-no-connections">
          <p>No connections yet. An agent exposes tools that come from connections (the upstream MCP servers Switchboard talks to): add one, test it, then come back to pick its tools.</p>
          <p><a class="button" href="/admin/connections/new">New connection</a></p>
        </div>
      ) : (
        ordered.map((c) => <ConnectionChoice c={c} selection={selected.get(c.id)} />)
      )}

      {/* Kept in view while scrolling through long tool lists: the verdict and the buttons. */}
      <div class="editor-footer">
        <div id="agent-check" role="status" aria-live="polite">{props.check && <CheckResult check={props.check} />}</div>
        <div class="row">
          <button type="submit">{props.agentId ? "Save" : "Create agent"}</button>
          <button type="submit" class="secondary" formaction="/admin/agents/check" hx-post="/admin/agents/check" hx-target="#agent-check" hx-swap="innerHTML" data-busy-label="Checking…">Check names</button>
        </div>
      </div>
    </form>
    <div hidden id="agent-live-check" hx-post="/admin/agents/check" hx-trigger="change from:#agent-form, input delay:600ms from:#agent-form" hx-include="#agent-form" hx-target="#agent-check" hx-swap="innerHTML"></div>
    </>
  );
}
