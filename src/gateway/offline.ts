// The gateway as seen where none runs (the CLI): nothing is live, tests and "Try it" fail with a clear
// error, changes have nothing to close or tell.
import { NO_DISCOVERY, type ManagedGateway } from "./types.ts";

/** A stand-in with the operations' view of the gateway, for commands run on the host. */
export const OFFLINE_GATEWAY: ManagedGateway = {
  test: async () => ({ ok: false, latency_ms: 0, server: null, tools: 0, resources: 0, prompts: 0, error: "the gateway is not running" }),
  status: async () => ({ state: "idle", lastError: null, since: null }),
  sessionCount: 0,
  discovery: () => NO_DISCOVERY,
  refresh: async () => NO_DISCOVERY,
  stderr: () => [],
  apply: async () => {},
  remove: async () => {},
  agentApplied: async () => {},
  agentRemoved: async () => {},
  agentHealth: async () => [],
  callAgentTool: async () => {
    throw new Error("the gateway is not running");
  },
};
