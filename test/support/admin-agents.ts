// The setup the admin Agents tests share: two connections that both offer "search", an agent over
// them (gitlab's search aliased, one selected tool gone upstream), session cookies, and form posts.
import { findAgent, listAgents } from "../../src/domain/agents/agents.ts";
import { expect } from "bun:test";
import { discoveryOf } from "./connection-harness.ts";
import { pick, type AgentHarness, type AgentOverrides } from "./agent-harness.ts";

export type AdminCtx = { h: AgentHarness; githubId: string; gitlabId: string; agentId: string; admin: string; member: string };

export async function adminSetup(harness: (o?: AgentOverrides) => Promise<AgentHarness>, overrides: AgentOverrides = {}): Promise<AdminCtx> {
  const h = await harness(overrides);
  const github = await h.connection("github", { search: "Search GitHub issues", get_issue: "One issue" });
  const gitlab = await h.connection("gitlab", { search: "Search GitLab", merge: "Merge a request" });
  h.gateway.discoveries.set(gitlab.id, {
    ...discoveryOf({ search: "Search GitLab", merge: "Merge a request" }),
    tools: [
      { name: "search", description: "Search GitLab", inputSchema: { type: "object", properties: { query: { type: "string" } } } },
      { name: "merge", description: "Merge a request", inputSchema: { type: "object" } },
    ],
  });
  const agent = await h.agent("support", [pick(github, ["search", "gone"]), pick(gitlab, [["search", "search_gitlab"]])], { instructions: "Help the team." });
  return { h, githubId: github.id, gitlabId: gitlab.id, agentId: agent.id, admin: await h.cookieFor(h.admin), member: await h.cookieFor(h.member) };
}

export const FORM = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };

export function post(ctx: AdminCtx, cookie: string, path: string, fields: Record<string, string> | [string, string][], headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(ctx.h.app.request(path, { method: "POST", headers: { ...FORM, cookie, ...headers }, body: new URLSearchParams(fields).toString() }));
}

export function get(ctx: AdminCtx, cookie: string | null, path: string): Promise<Response> {
  return Promise.resolve(ctx.h.app.request(path, { headers: cookie ? { cookie } : {} }));
}

/** Nothing was created, changed or deleted, and the gateway heard of nothing. */
export async function unchanged({ h, agentId }: AdminCtx): Promise<void> {
  expect((await listAgents(h.deps.db)).map((a) => a.slug)).toEqual(["support"]);
  expect(await findAgent(h.deps.db, agentId)).toMatchObject({ title: "support", prefixTools: false });
  expect([h.agents.applied, h.agents.removed, h.agents.calls]).toEqual([[], [], []]);
}

/** The editor's fields for an agent over github (rows: search, get_issue) and gitlab (rows: search, merge). */
export function editorFields(ctx: AdminCtx, choice: { slug: string; github?: number[]; gitlab?: number[]; gitlabAlias?: string; prefix?: boolean; gitlabAll?: boolean }): [string, string][] {
  const fields: [string, string][] = [["slug", choice.slug], ["title", ""], ["description", ""], ["instructions", "Be brief."], ["enabled_shown", "1"], ["enabled", "1"]];
  if (choice.prefix) fields.push(["prefix_tools", "1"]);
  const names = { [ctx.githubId]: ["search", "get_issue"], [ctx.gitlabId]: ["search", "merge"] };
  for (const [id, rows] of [[ctx.githubId, choice.github ?? []], [ctx.gitlabId, choice.gitlab ?? []]] as const) {
    fields.push([`conn.${id}`, "1"], [`mode.${id}`, id === ctx.gitlabId && choice.gitlabAll ? "all" : "pick"]);
    for (const row of rows) fields.push([`tool.${id}.${row}`, names[id]![row]!]);
    fields.push([`alias.${id}.0`, id === ctx.gitlabId ? (choice.gitlabAlias ?? "") : ""], [`desc.${id}.0`, ""], [`res.${id}`, "none"], [`res_list.${id}`, ""], [`prm.${id}`, "none"], [`prm_list.${id}`, ""]);
  }
  return fields;
}
