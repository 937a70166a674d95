// The API keys page: every change goes through the same operations as /mcp/self and /api/v1,
// with the signed-in user as the caller (members manage their own keys, admins everyone's).
import { Hono, type Context } from "hono";
import { checkAgent, listAgents } from "../../domain/agents/agents.ts";
import { listConnections } from "../../domain/connections/connections.ts";
import { listUsers } from "../../domain/access/users.ts";
import { AppError } from "../../errors.ts";
import { apiKeyCreate, apiKeyDelete, apiKeyList, apiKeyRotate } from "../../operations/api-keys.ts";
import { agentStore } from "../../operations/agents.ts";
import { connectionStore } from "../../operations/connections.ts";
import { runOperation, sessionCaller, type Operation } from "../../operations/registry.ts";
import { IssuedTokenPage, IssuedTokenSection, KeysPage, KeysSection, type IssuedToken, type KeyRow, type KeysProps } from "../../../views/api-keys.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readFormLists } from "../form.ts";

type Outcome = Pick<KeysProps, "issued" | "message" | "form" | "preselect">;

/**
 * The permissions the checkboxes describe: self tools (or all), and per connection or agent either
 * all ("grant_all" = its id) or the tools ticked under "grant_<id>".
 */
function permissionsFromBuilder(form: Record<string, string[]>): Record<string, string[]> {
  const permissions: Record<string, string[]> = {};
  if (form.self_all?.length) permissions.self = ["*"];
  else if (form.self?.length) permissions.self = form.self;
  const all = new Set(form.grant_all ?? []);
  for (const id of all) permissions[id] = ["*"];
  for (const [field, tools] of Object.entries(form)) {
    if (!(field.startsWith("grant_conn_") || field.startsWith("grant_agent_")) || tools.length === 0) continue;
    const id = field.slice("grant_".length);
    if (!all.has(id)) permissions[id] = tools;
  }
  return permissions;
}

export function adminKeyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const run = (c: Context<AppEnv>, op: unknown, input: unknown) =>
    runOperation(op as Operation, { deps, caller: sessionCaller(c.get("user"), deps.catalog), now: new Date() }, input);

  /**
   * What the permission picker offers: each connection's discovered tools and each agent's exposed
   * names. Upstream data feeds it, so a failure here empties the picker (raw JSON still works) rather
   * than failing the page for every user.
   */
  const grantables = (): Pick<KeysProps, "connections" | "agents" | "pickerFailed"> => {
    try {
      const store = agentStore(deps);
      return {
        connections: listConnections(connectionStore(deps)).map((conn) => ({
          id: conn.id,
          slug: conn.slug,
          title: conn.title,
          tools: deps.gateway.discovery(conn.id).tools.map((tool) => tool.name).filter((name) => typeof name === "string"),
        })),
        agents: listAgents(deps.db).map((agent) => ({
          id: agent.id,
          slug: agent.slug,
          title: agent.title,
          tools: checkAgent(store, agent).tools.filter((t) => !t.missing).map((t) => t.exposed),
        })),
      };
    } catch (err) {
      deps.logger.error("the keys page could not list connection and agent tools", { error: err });
      return { connections: [], agents: [], pickerFailed: true };
    }
  };

  const render = async (c: Context<AppEnv>, outcome: Outcome): Promise<string> => {
    const viewer = c.get("user");
    const { keys } = (await run(c, apiKeyList, {})) as { keys: KeyRow[] };
    const props: KeysProps = {
      viewer,
      keys,
      grantableTools: viewer.role === "admin" ? [...deps.catalog.all] : [...deps.catalog.forMembers],
      users: viewer.role === "admin" ? listUsers(deps.db).map((u) => ({ id: u.id, email: u.email })) : [],
      ...grantables(),
      ...outcome,
    };
    return (isHtmx(c) ? KeysSection(props) : KeysPage(props)).toString();
  };

  const respond = async (c: Context<AppEnv>, outcome: Outcome = {}, status: 200 | 201 | 400 | 403 | 404 = 200) => {
    const issued = outcome.issued;
    // A token must never sit in a browser or proxy cache.
    if (issued) c.header("Cache-Control", "no-store");
    let html: string;
    try {
      html = await render(c, outcome);
    } catch (err) {
      // The key is saved and only its hash is kept: if the page fails now, the token is lost for good.
      // So it is shown on its own, whatever else failed.
      if (!issued) throw err;
      deps.logger.error("the keys page failed after a token was issued; showing the token alone", { key: issued.keyName, error: err });
      const props = { viewer: c.get("user"), issued };
      html = await (isHtmx(c) ? IssuedTokenSection(props) : IssuedTokenPage(props)).toString();
    }
    return c.html(html, status);
  };

  /** Runs a change; a refusal (bad field, too many permissions, not found) is shown in the section. */
  const change = async (c: Context<AppEnv>, action: () => Promise<Outcome>, form?: Outcome["form"]) => {
    try {
      return await respond(c, await action());
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return respond(c, { message: { kind: "error", text: err.message }, form }, err.status as 400);
      throw err;
    }
  };

  /** The token to show once, with the endpoint it is for: the one agent or connection it grants alone, else /mcp/self. */
  const issued = (key: KeyRow, token: string, rotated: boolean): IssuedToken => {
    const resources = Object.keys(key.permissions);
    const only = resources.length === 1 ? resources[0]! : null;
    const path = only?.startsWith("agent_") ? `agent/${only}` : only?.startsWith("conn_") ? only : "self";
    return { keyName: key.name, token, rotated, endpoint: `${deps.config.server.public_url}/mcp/${path}` };
  };

  app.get("/", (c) => respond(c, { preselect: c.req.query("grant") }));

  app.post("/", async (c) => {
    const form = await readFormLists(c);
    const raw = (form.permissions_json?.[0] ?? "").trim();
    const name = form.name?.[0] ?? "";
    return change(
      c,
      async () => {
        let permissions: unknown;
        if (raw !== "") {
          try {
            permissions = JSON.parse(raw);
          } catch {
            throw new AppError("INVALID_PERMISSIONS", "The raw permissions are not valid JSON.");
          }
        } else {
          permissions = permissionsFromBuilder(form);
        }
        const expiresIn = form.expires_in?.[0];
        const ownerId = form.owner_id?.[0];
        const result = (await run(c, apiKeyCreate, {
          name,
          permissions,
          ...(expiresIn ? { expires_in: expiresIn } : {}),
          ...(ownerId ? { owner_id: ownerId } : {}),
        })) as { key: KeyRow; token: string };
        return { issued: issued(result.key, result.token, false) };
      },
      { name, raw },
    );
  });

  app.post("/:id/rotate", async (c) => {
    const grace = (await readFormLists(c)).grace_period?.[0];
    return change(c, async () => {
      const result = (await run(c, apiKeyRotate, { id: c.req.param("id"), ...(grace ? { grace_period: grace } : {}) })) as { key: KeyRow; token: string };
      return { issued: issued(result.key, result.token, true) };
    });
  });

  app.post("/:id/delete", (c) =>
    change(c, async () => {
      await run(c, apiKeyDelete, { id: c.req.param("id") });
      return { message: { kind: "ok", text: "Key revoked." } };
    }),
  );

  return app;
}
