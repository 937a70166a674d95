// GET /oauth/upstream/client.json: Switchboard's client ID metadata document for its upstreams'
// authorization servers: public, cacheable a few minutes, served even when Switchboard is no
// authorization server itself, and naming only the one callback.
import { expect, test } from "bun:test";
import { PUBLIC_URL, useTestApp } from "../support/app.ts";

const app = useTestApp();

test("the document names itself as client_id, the callback as its only redirect URI, and no secret", async () => {
  const t = await app({ oauth: { enabled: false } });
  const res = await t.request("/oauth/upstream/client.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  expect(await res.json()).toEqual({
    client_id: `${PUBLIC_URL}/oauth/upstream/client.json`,
    client_name: "Switchboard",
    client_uri: PUBLIC_URL,
    redirect_uris: [`${PUBLIC_URL}/oauth/upstream/callback`],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  });
  // The authorization server's own endpoints stay off.
  expect((await t.request("/oauth/authorize")).status).toBe(404);
});

