// The API keys page: every change goes through the same operations as /mcp/self and /api/v1,
// with the signed-in user as the caller (members manage their own keys, admins everyone's).
import { Hono, type Context } from "hono";
import { RANGES } from "../../domain/monitoring/types.ts";
import { AppError, type ErrorStatus } from "../../errors.ts";
import { apiKeyCreate, apiKeyDelete, apiKeyList, apiKeyRotate } from "../../operations/api-keys.ts";
import { monitoringKeyActivity } from "../../operations/monitoring.ts";
import { oauthGrantList } from "../../operations/oauth.ts";
import { toolList } from "../../operations/tools.ts";
import { userList } from "../../operations/users.ts";
import { KeyActivityPage } from "../../../views/monitoring.tsx";
import { IssuedTokenPage, IssuedTokenSection, KeysPage, KeysSection, type IssuedToken, type KeyRow, type KeysProps } from "../../../views/api-keys.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readFormLists } from "../form.ts";
import { mayUse, runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";

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

/** The raw permissions box: JSON, or a refusal of the field. */
function parsePermissionsJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError("INVALID_PERMISSIONS", "The raw permissions are not valid JSON.");
  }
}

export function adminKeyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /**
   * What the permission picker offers: each connection's discovered tools and each agent's exposed
   * names. Upstream data feeds it, so a failure here empties the picker (raw JSON still works) rather
   * than failing the page for every user.
   */
  const grantables = async (c: Context<AppEnv>): Promise<Pick<KeysProps, "connections" | "agents" | "pickerFailed">> => {
    try {
      const offers = await runAsUser(c, deps, toolList, {});
      return {
        connections: offers.connections.map((conn) => ({ id: conn.id, slug: conn.slug, title: conn.title, tools: conn.tools.map((tool) => tool.name) })),
        agents: offers.agents,
      };
    } catch (err) {
      deps.logger.error("the keys page could not list connection and agent tools", { error: err });
      return { connections: [], agents: [], pickerFailed: true };
    }
  };

  /**
   * Each key used in the last day with what its activity flags (a new address or client, an error rate
   * jump), so the list marks it. Monitoring is an aid here: if it fails, the list shows without marks.
   */
  const withFlags = async (c: Context<AppEnv>, keys: KeyRow[]): Promise<KeyRow[]> => {
    const dayAgo = Date.now() - 86_400_000;
    return Promise.all(
      keys.map(async (key) => {
        if (key.last_used_at === null || Date.parse(key.last_used_at) < dayAgo) return key;
        try {
          const activity = await runAsUser(c, deps, monitoringKeyActivity, { credential_id: key.id, range: "24h" });
          return { ...key, flags: activity.flags.map((f) => f.message) };
        } catch (err) {
          deps.logger.error("the keys page could not read a key's activity", { key: key.id, error: err });
          return key;
        }
      }),
    );
  };

  const render = async (c: Context<AppEnv>, outcome: Outcome): Promise<string> => {
    const viewer = c.get("user");
    const keys = await withFlags(c, (await runAsUser(c, deps, apiKeyList, {})).keys);
    // API_KEY_CREATE lets admins alone set owner_id: only they get the owner picker.
    const isAdmin = viewer.role === "admin";
    const props: KeysProps = {
      viewer,
      keys,
      // The management tools offered are those the viewer may run: a key never holds more than its maker.
      grantableTools: deps.catalog.all.filter((name) => mayUse(c, deps, { name })),
      // The owner picker: only admins mint keys for others.
      users: isAdmin ? (await runAsUser(c, deps, userList, {})).users.map((u) => ({ id: u.id, email: u.email })) : [],
      ...(await grantables(c)),
      ...outcome,
    };
    return (isHtmx(c) ? KeysSection(props) : KeysPage(props)).toString();
  };

  const respond = async (c: Context<AppEnv>, outcome: Outcome = {}, status: ErrorStatus | 200 = 200) => {
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

  /** A refused change: the section again, with the reason and (for a new key) what was typed. */
  const refused = (c: Context<AppEnv>, form?: Outcome["form"]) => (r: FormRefusal) => respond(c, { message: { kind: "error", text: r.message }, form }, r.status);

  /** The token to show once, with the endpoint it is for: the one agent or connection it grants alone, else /mcp/self. */
  const issued = (key: KeyRow, token: string, rotated: boolean): IssuedToken => {
    const resources = Object.keys(key.permissions);
    const only = resources.length === 1 ? resources[0]! : null;
    const path = only?.startsWith("agent_") ? `agent/${only}` : only?.startsWith("conn_") ? only : "self";
    return { keyName: key.name, token, rotated, endpoint: `${deps.config.server.public_url}/mcp/${path}` };
  };

  app.get("/", (c) => respond(c, { preselect: c.req.query("grant") }));

  // One key's (or authorized app's) activity. The operation decides: a member asking for another's key gets its 404.
  app.get("/:id/activity", async (c) => {
    const id = c.req.param("id");
    const asked = c.req.query("range") ?? "";
    const range = Object.hasOwn(RANGES, asked) ? asked : "7d";
    const activity = await runAsUser(c, deps, monitoringKeyActivity, { credential_id: id, range });
    const [{ keys }, { grants }] = await Promise.all([runAsUser(c, deps, apiKeyList, {}), runAsUser(c, deps, oauthGrantList, {})]);
    const grant = grants.find((g) => g.id === id);
    // A revoked key keeps its rows (admins may still read them): its id stands in for the name.
    const name = keys.find((k) => k.id === id)?.name ?? (grant ? `app ${grant.client.name}` : id);
    return c.html(KeyActivityPage({ user: c.get("user"), name, activity, range }));
  });

  app.post("/", async (c) => {
    const form = await readFormLists(c);
    const raw = (form.permissions_json?.[0] ?? "").trim();
    const name = form.name?.[0] ?? "";
    const expiresIn = form.expires_in?.[0];
    const ownerId = form.owner_id?.[0];
    const input = () => ({
      name,
      permissions: raw === "" ? permissionsFromBuilder(form) : parsePermissionsJson(raw),
      ...(expiresIn ? { expires_in: expiresIn } : {}),
      ...(ownerId ? { owner_id: ownerId } : {}),
    });
    return submitForm(c, deps, apiKeyCreate, input, {
      done: (result) => respond(c, { issued: issued(result.key, result.token, false) }),
      refused: refused(c, { name, raw }),
    });
  });

  app.post("/:id/rotate", async (c) => {
    const grace = (await readFormLists(c)).grace_period?.[0];
    return submitForm(c, deps, apiKeyRotate, () => ({ id: c.req.param("id"), ...(grace ? { grace_period: grace } : {}) }), {
      done: (result) => respond(c, { issued: issued(result.key, result.token, true) }),
      refused: refused(c),
    });
  });

  app.post("/:id/delete", (c) =>
    submitForm(c, deps, apiKeyDelete, () => ({ id: c.req.param("id") }), {
      done: () => respond(c, { message: { kind: "ok", text: "Key revoked." } }),
      refused: refused(c),
    }),
  );

  return app;
}
