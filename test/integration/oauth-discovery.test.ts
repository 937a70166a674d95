// OAuth discovery as clients do it: the 401 challenge, the protected resource metadata (path form and
// root), the authorization server metadata at both paths, CORS, and the key-only endpoints that
// publish none of it.
import { afterAll, describe, expect, test } from "bun:test";
import { createTestApp, PUBLIC_URL, type TestApp } from "../support/app.ts";

const AGENT = "agent_6f1c2f8e-8a51-4a55-9d0b-1a2b3c4d5e6f";
const CONNECTION = "conn_6f1c2f8e-8a51-4a55-9d0b-1a2b3c4d5e6f";

async function json(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get("content-type")).toContain("application/json");
  return (await res.json()) as Record<string, unknown>;
}

describe("with OAuth on (the default)", async () => {
  const t: TestApp = await createTestApp();
  afterAll(() => t.close());

  test("a 401 on an agent points at the metadata of that exact path", async () => {
    const res = await t.request(`/mcp/agent/${AGENT}`, { method: "POST" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/agent/${AGENT}"`);
  });

  for (const path of [`/mcp/agent/${AGENT}`, `/mcp/agent/demo`, `/mcp/${CONNECTION}`, "/mcp/everything"]) {
    test(`the metadata of ${path} names it exactly (no trailing slash) and the authorization server`, async () => {
      const res = await t.request(`/.well-known/oauth-protected-resource${path}`);
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({
        resource: `${PUBLIC_URL}${path}`,
        authorization_servers: [PUBLIC_URL],
        bearer_methods_supported: ["header"],
        scopes_supported: ["mcp", "offline_access"],
      });
    });
  }

  for (const path of ["/mcp/self", "/api/v1", "/api/v1/keys", "/mcp/agent/a/b", "/admin"]) {
    test(`${path} takes API keys only: its metadata names no authorization server`, async () => {
      const body = await json(await t.request(`/.well-known/oauth-protected-resource${path}`));
      expect(body.resource).toBe(`${PUBLIC_URL}${path}`);
      expect(body.authorization_servers).toBeUndefined();
    });
  }

  test("the root form describes the server as a whole", async () => {
    const body = await json(await t.request("/.well-known/oauth-protected-resource"));
    expect(body).toMatchObject({ resource: PUBLIC_URL, authorization_servers: [PUBLIC_URL] });
  });

  for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
    test(`${path} is the authorization server's metadata, as MCP clients need it`, async () => {
      const body = await json(await t.request(path));
      expect(body).toMatchObject({
        issuer: PUBLIC_URL,
        authorization_endpoint: `${PUBLIC_URL}/oauth/authorize`,
        token_endpoint: `${PUBLIC_URL}/oauth/token`,
        registration_endpoint: `${PUBLIC_URL}/oauth/register`,
        revocation_endpoint: `${PUBLIC_URL}/oauth/revoke`,
        code_challenge_methods_supported: ["S256"],
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        client_id_metadata_document_supported: true,
        authorization_response_iss_parameter_supported: true,
      });
      expect(body.scopes_supported).toContain("offline_access");
    });
  }

  test("both documents are the same, and readable from any origin (CORS, preflight included)", async () => {
    const a = await t.request("/.well-known/oauth-authorization-server", { headers: { origin: "https://claude.ai" } });
    const b = await t.request("/.well-known/openid-configuration");
    expect(await a.clone().json()).toEqual(await b.json());
    expect(a.headers.get("access-control-allow-origin")).toBe("*");
    const preflight = await t.request("/.well-known/oauth-protected-resource/mcp/agent/demo", {
      method: "OPTIONS",
      headers: { origin: "https://vscode.dev", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
  });

  test("the key-only endpoints answer 401 without pointing at any OAuth metadata, and publish none", async () => {
    const res = await t.request(`/mcp-key/agent/${AGENT}`, { method: "POST" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="switchboard"');
    const wrong = await t.request(`/mcp-key/${CONNECTION}`, { method: "POST", headers: { authorization: "Bearer mcp_key_nope" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toBe('Bearer realm="switchboard", error="invalid_token"');
    expect((await t.request(`/.well-known/oauth-protected-resource/mcp-key/agent/${AGENT}`)).status).toBe(404);
  });
});

describe("with OAuth off", async () => {
  const t: TestApp = await createTestApp({ overrides: { oauth: { enabled: false } } });
  afterAll(() => t.close());

  test("no authorization server is named or served", async () => {
    const body = await json(await t.request(`/.well-known/oauth-protected-resource/mcp/agent/${AGENT}`));
    expect(body.authorization_servers).toBeUndefined();
    expect((await t.request("/.well-known/oauth-authorization-server")).status).toBe(404);
    expect((await t.request("/.well-known/openid-configuration")).status).toBe(404);
  });
});

describe("with dynamic registration closed", async () => {
  const t: TestApp = await createTestApp({ overrides: { oauth: { dynamic_registration: false, client_metadata_documents: false } } });
  afterAll(() => t.close());

  test("the metadata publishes no registration endpoint and says documents are not accepted", async () => {
    const body = await json(await t.request("/.well-known/oauth-authorization-server"));
    expect(body.registration_endpoint).toBeUndefined();
    expect(body.client_id_metadata_document_supported).toBe(false);
  });
});
