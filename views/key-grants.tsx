// A key's grants, both ways: read (agent and connection titles linked, "management: N tools") and
// written (the builder: which agent first, then connections, the management API and raw JSON under "Advanced").
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { TOOL_NAME } from "../src/domain/agents/tools.ts";

export type Permissions = Record<string, string[]>;

/**
 * An agent or a connection in the permission builder, with its tools: an agent's as it exposes them now
 * (by exposed name), a connection's as last discovered (empty until it connects).
 */
export type GrantTarget = { id: string; slug: string; title: string; tools: string[] };

/** What grants can name: the agents and connections that exist, or `known: false` when they could not be listed. */
export type GrantTargets = { connections: GrantTarget[]; agents: GrantTarget[]; known: boolean };

/**
 * Whether a name may become a checkbox: a checkbox's value is stored as a permission action, so a name
 * outside MCP's tool name rule ("*" above all, which grants everything) never becomes one, whatever
 * an upstream or an agent lists.
 */
function grantable(name: unknown): name is string {
  return typeof name === "string" && TOOL_NAME.test(name);
}

function toolsText(actions: string[]): string {
  if (actions.includes("*")) return "all tools";
  return actions.length > 4 ? `${actions.slice(0, 4).join(", ")} +${actions.length - 4} more` : actions.join(", ");
}

/** One grant, named: a linked title for an agent or a connection; a target that no longer exists as its raw id, marked. */
function Grant(props: { resource: string; actions: string[]; targets: GrantTargets }): Child {
  const { resource, actions, targets } = props;
  if (resource === "self") {
    return <li data-grant="self">management: {actions.includes("*") ? "all" : `${actions.length} tool${actions.length === 1 ? "" : "s"}`}</li>;
  }
  if (resource === "*") return <li data-grant="*">any connection: {toolsText(actions)}</li>;
  const agent = targets.agents.find((a) => a.id === resource);
  const connection = targets.connections.find((c) => c.id === resource);
  const found = agent ?? connection;
  if (!found) {
    return (
      <li data-grant={resource}>
        <code>{resource}</code>{targets.known && <> <span class="badge deleted">deleted</span></>}: {toolsText(actions)}
      </li>
    );
  }
  const href = agent ? `/admin/agents/${agent.id}` : `/admin/connections/${found.id}`;
  return (
    <li data-grant={resource}>
      <span class="muted small">{agent ? "agent" : "connection"}</span> <a href={href}>{found.title}</a>: {toolsText(actions)}
    </li>
  );
}

/** Every grant of a key, agents first, then connections, then the management API. */
export function GrantList(props: { permissions: Permissions; targets: GrantTargets }): Child {
  const order = (resource: string): number => (resource.startsWith("agent_") ? 0 : resource === "self" ? 3 : resource === "*" ? 2 : 1);
  const entries = Object.entries(props.permissions).sort(([a], [b]) => order(a) - order(b));
  if (entries.length === 0) return <span class="muted">nothing</span>;
  return <ul class="grants">{entries.map(([resource, actions]) => <Grant resource={resource} actions={actions} targets={props.targets} />)}</ul>;
}

export type BuilderProps = {
  isAdmin: boolean;
  /** Management tools the viewer may grant. */
  grantableTools: string[];
  targets: GrantTargets;
  /** The connection and agent tools could not be listed: the picker is empty, raw JSON still works. */
  pickerFailed?: boolean;
  /** What starts ticked (the key being edited, or what a refused form sent). */
  chosen?: Permissions;
  /** The raw JSON box's text; when set, its details start open. */
  raw?: string;
  /** An agent or connection whose "all" box starts ticked and which is listed first (from its page's link). */
  preselect?: string;
};

/** Whether the builder's boxes can show `permissions` exactly; if not, the edit form shows them as JSON. */
export function builderCanShow(permissions: Permissions, props: Pick<BuilderProps, "isAdmin" | "grantableTools" | "targets">): boolean {
  return Object.entries(permissions).every(([resource, actions]) => {
    if (resource === "self") return actions.includes("*") ? props.isAdmin && actions.length === 1 : actions.every((a) => props.grantableTools.includes(a));
    const found = props.targets.agents.find((a) => a.id === resource) ?? props.targets.connections.find((c) => c.id === resource);
    if (!found) return false;
    return (actions.length === 1 && actions[0] === "*") || actions.every((a) => found.tools.includes(a) && grantable(a));
  });
}

/** Per agent or connection: "all" (["*"]), or a choice of its tools folded beneath it. */
function Targets(props: { kind: "agent" | "connection"; items: GrantTarget[]; chosen: Permissions; preselect?: string }): Child {
  const first = props.items.filter((t) => t.id === props.preselect);
  const rest = props.items.filter((t) => t.id !== props.preselect);
  return (
    <>
      {[...first, ...rest].map((t) => {
        const tools = t.tools.filter(grantable);
        const picked = props.chosen[t.id] ?? [];
        const all = picked.includes("*") || t.id === props.preselect;
        return (
          <div class="grant" id={`grant-${t.id}`}>
            <label class="check">
              <input type="checkbox" name="grant_all" value={t.id} checked={all} /> <strong>{t.title}</strong> <code>{t.slug}</code>: {props.kind === "agent" ? "all its tools" : "all tools, resources and prompts"}
            </label>
            {tools.length === 0 ? (
              <p class="muted small">{props.kind === "agent" ? "It exposes no tools yet." : 'No tools discovered yet (test or refresh the connection to list them); "all" grants whatever it offers.'}</p>
            ) : (
              <details class="pick" open={!all && picked.length > 0}>
                <summary class="small">or pick tools ({tools.length})</summary>
                <div class="checks">
                  {tools.map((tool) => (
                    <label class="check"><input type="checkbox" name={`grant_${t.id}`} value={tool} checked={!all && picked.includes(tool)} /> <code>{tool}</code></label>
                  ))}
                </div>
              </details>
            )}
          </div>
        );
      })}
    </>
  );
}

/**
 * The permission builder, in the order of the common case: which agent the key is for, then
 * connections; the management API and raw JSON are folded under "Advanced" (closed unless in use).
 */
export function GrantBuilder(props: BuilderProps): Child {
  const chosen = props.chosen ?? {};
  const self = chosen.self ?? [];
  return (
    <>
      {props.pickerFailed && (
        <div class="alert error" role="alert" id="picker-failed">The tools of connections and agents could not be listed just now; grant them with the raw JSON under Advanced.</div>
      )}
      <fieldset class="builder agents">
        <legend>Which agent is this key for?</legend>
        {props.targets.agents.length === 0 ? (
          <p class="muted">No agents yet. An <a href="/admin/agents">agent</a> gathers chosen tools of your connections behind one endpoint; build one, then give a key to it.</p>
        ) : (
          <Targets kind="agent" items={props.targets.agents} chosen={chosen} preselect={props.preselect} />
        )}
      </fieldset>
      <fieldset class="builder connections">
        <legend>Connections</legend>
        {props.targets.connections.length === 0 ? (
          <p class="muted">No connections yet; once there are, their tools can be granted here.</p>
        ) : (
          <Targets kind="connection" items={props.targets.connections} chosen={chosen} preselect={props.preselect} />
        )}
      </fieldset>
      <details class="advanced" data-advanced="self" open={self.length > 0}>
        <summary>Advanced: management API (<code>/mcp/self</code>, <code>/api/v1</code>)</summary>
        <fieldset class="builder">
          <legend>Management tools (<code>self</code>)</legend>
          {props.isAdmin && (
            <label class="check"><input type="checkbox" name="self_all" value="1" checked={self.includes("*")} /> All management tools (<code>"*"</code>)</label>
          )}
          <div class="checks">
            {props.grantableTools.map((tool) => (
              <label class="check"><input type="checkbox" name="self" value={tool} checked={self.includes(tool)} /> <code>{tool}</code></label>
            ))}
          </div>
        </fieldset>
      </details>
      <details class="advanced" data-advanced="raw" open={props.raw ? true : undefined}>
        <summary>Advanced: raw permissions JSON (overrides the choices above)</summary>
        <textarea name="permissions_json" rows={4} placeholder='{"self": ["WHOAMI"]}' aria-label="Raw permissions JSON">{props.raw ?? ""}</textarea>
      </details>
    </>
  );
}
