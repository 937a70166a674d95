// Review of issue 16: a refresh's answer is bounded in size like every other answer of an upstream's
// OAuth endpoints (discovery's OAUTH_MAX_RESPONSE_BYTES, 1 MiB): a hostile token endpoint must not make
// every replica hold an answer of its choosing in memory.
import { afterAll, expect, test } from "bun:test";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { OAuthCredentials } from "../../src/gateway/upstream/oauth/credentials.ts";
import { OAUTH_MAX_RESPONSE_BYTES } from "../../src/gateway/upstream/oauth/discovery.ts";
import { DEFAULT_ADDRESS_POLICY } from "../../src/gateway/upstream/address-policy.ts";
import { silentLogger } from "../../src/logger.ts";
import { httpSpec } from "../support/gateway-harness.ts";
import { MemoryOAuthStore } from "../support/memory-oauth-store.ts";

let served = 0;
const padding = "x".repeat(8 * OAUTH_MAX_RESPONSE_BYTES);
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch() {
    served++;
    return Response.json({ access_token: "at-new", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-new", padding });
  },
});
afterAll(() => server.stop(true));

test("a token endpoint answering 8 MiB to a refresh is refused, not read whole", async () => {
  const origin = `http://127.0.0.1:${server.port}`;
  const spec = httpSpec("http://127.0.0.1:9/mcp", { oauth: { mode: "shared" }, title: "Tracker" });
  const store = new MemoryOAuthStore();
  store.registrations.set(spec.id, {
    connectionId: spec.id, issuer: origin, resource: "http://127.0.0.1:9/mcp", authorizationEndpoint: `${origin}/authorize`, tokenEndpoint: `${origin}/token`,
    revocationEndpoint: null, userinfoEndpoint: null, method: "dcr", clientId: "sb", clientSecret: null, tokenEndpointAuthMethod: "none", scopes: null,
    redirectUri: "http://127.0.0.1:1/oauth/upstream/callback", createdAt: new Date(),
  });
  await store.saveLink({ connectionId: spec.id, subject: "shared" as OAuthSubject, tokens: { accessToken: "at-old", refreshToken: "rt-old", expiresAt: new Date(Date.now() - 1000), scope: null }, account: "bot", connectedBy: "user_admin" });
  const credentials = new OAuthCredentials({ store, isAdmin: async () => true, probe: () => "v1", publicUrl: "https://sb.example.com", addressPolicy: DEFAULT_ADDRESS_POLICY, logger: silentLogger });
  const outcome = await credentials.authorization(spec, "discovery").then((v) => v, (err: Error) => err);
  expect(served).toBe(1);
  expect(outcome).toBeInstanceOf(Error);
});
