// The public shape of an OAuth grant: the resource named by slug and title, or by id alone once it is
// gone (deleted between the list and the lookup of names); the kind read from the id.
import { describe, expect, test } from "bun:test";
import type { OAuthGrant } from "../../src/domain/oauth/types.ts";
import { OAuthGrantShape, oauthGrantOut } from "../../src/operations/oauth-shapes.ts";

const AGENT = "agent_00000000-0000-4000-8000-000000000001";
const CONN = "conn_00000000-0000-4000-8000-000000000002";

function grant(resource: string): OAuthGrant {
  return {
    id: "grant_00000000-0000-4000-8000-000000000003",
    userId: "user_1",
    userEmail: "a@example.com",
    clientId: "sbc_x",
    clientName: "Cursor",
    clientKind: "dcr",
    resource,
    resourceUrl: `http://switchboard.test/mcp/${resource}`,
    scope: "mcp",
    permissions: { [resource]: ["*"] },
    createdAt: new Date("2026-01-01T00:00:00Z"),
    lastUsedAt: null,
    refreshExpiresAt: new Date("2026-01-31T00:00:00Z"),
  };
}

describe("oauthGrantOut", () => {
  test("names the agent or connection by slug and title, with its kind", () => {
    const names = new Map([[AGENT, { slug: "helper", title: "Helper" }], [CONN, { slug: "github", title: "GitHub" }]]);
    expect(oauthGrantOut(grant(AGENT), names).resource).toEqual({ id: AGENT, kind: "agent", slug: "helper", title: "Helper" });
    expect(oauthGrantOut(grant(CONN), names).resource).toEqual({ id: CONN, kind: "connection", slug: "github", title: "GitHub" });
  });

  test("a resource gone since keeps its id, with no slug or title; nothing beyond the shape leaves", () => {
    const out = OAuthGrantShape.parse(oauthGrantOut(grant(AGENT), new Map()));
    expect(out.resource).toEqual({ id: AGENT, kind: "agent", slug: null, title: null });
    expect(Object.keys(out).sort()).toEqual(["client", "created_at", "id", "last_used_at", "refresh_expires_at", "resource", "resource_url", "scope", "user"]);
    expect(JSON.stringify(out)).not.toContain("permissions");
  });
});
