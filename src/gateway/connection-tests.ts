// CONNECTION_TEST's runs: a fresh client per test, but bounded, since any member may ask for one and a
// stdio test spawns a process. Concurrent tests of the same settings share one run; at most
// `maxConcurrent` runs at once across the gateway; a stdio test stays within the connection's
// max_processes. A refusal is BUSY (503), never a queue that grows. What a run reports is redacted
// (the connection's own secrets), and its stderr is shown to admins only.
import { createHash } from "node:crypto";
import { AppError } from "../errors.ts";
import { redactFor } from "./redact.ts";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import type { ConnectionTestResult } from "./types.ts";
import type { AddressPolicy } from "./upstream/address-policy.ts";
import { LineRing } from "./upstream/stdio-process.ts";
import { Upstream } from "./upstream/upstream.ts";
import type { UpstreamCredentials } from "./upstream/oauth/types.ts";

export type ConnectionTestSettings = {
  /** Most test runs at once, across every connection. */
  maxConcurrent: number;
  addressPolicy?: AddressPolicy;
  /** How many processes the connection's own runtime has running now (stdio). */
  processesOf: (connectionId: string) => number;
  /** OAuth connections are tested with discovery's token (the shared one, or per-user an admin's). */
  credentials?: UpstreamCredentials;
};

/** One run's outcome before it is shaped for a caller: the error and stderr still raw. */
type Run = { result: Omit<ConnectionTestResult, "error">; error: string | null; stderr: string[] };

/** Settings that test the same way share a run: the hash of the whole spec (secrets included, never kept in clear as a key). */
function fingerprint(spec: ConnectionSpec): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("base64url");
}

export class ConnectionTests {
  private readonly running = new Map<string, { connectionId: string; stdio: boolean; run: Promise<Run> }>();

  constructor(private readonly settings: ConnectionTestSettings) {}

  /** Tests `spec` (sharing a run of the same settings already under way); BUSY when at capacity. */
  async test(spec: ConnectionSpec, options: { withStderr?: boolean } = {}): Promise<ConnectionTestResult> {
    const key = fingerprint(spec);
    let entry = this.running.get(key);
    if (!entry) {
      // Admission is decided synchronously, so a burst of requests cannot all pass before one counts.
      this.admit(spec);
      const run = this.run(spec).finally(() => this.running.delete(key));
      entry = { connectionId: spec.id, stdio: spec.transport === "stdio", run };
      this.running.set(key, entry);
    }
    const { result, error, stderr } = await entry.run;
    if (error === null) return { ...result };
    // stderr may hold what the server printed of its environment: admins only, and redacted even then.
    const tail = options.withStderr ? stderr.slice(-3).join(" | ") : "";
    return { ...result, error: redactFor(spec, tail ? `${error} (stderr: ${tail})` : error, tail ? 1000 : undefined) };
  }

  private admit(spec: ConnectionSpec): void {
    if (this.running.size >= this.settings.maxConcurrent) {
      throw new AppError("BUSY", `${this.running.size} connection tests are running, the most at once (gateway.max_concurrent_tests); try again shortly.`);
    }
    if (spec.transport !== "stdio") return;
    const testing = [...this.running.values()].filter((r) => r.stdio && r.connectionId === spec.id).length;
    if (this.settings.processesOf(spec.id) + testing >= spec.maxProcesses) {
      throw new AppError("BUSY", `This connection already runs its maximum of ${spec.maxProcesses} processes (max_processes); try again shortly.`);
    }
  }

  private async run(spec: ConnectionSpec): Promise<Run> {
    const started = performance.now();
    const stderr = new LineRing(50);
    const elapsed = () => Math.round(performance.now() - started);
    let upstream: Upstream | null = null;
    const credentials = this.settings.credentials;
    try {
      upstream = await Upstream.connect(spec, {
        stderr,
        hooks: { onNotification: () => {}, onRequest: async () => ({}), onClose: () => {} },
        timeoutMs: spec.connectTimeoutMs,
        policy: this.settings.addressPolicy,
        authorization: spec.oauth && credentials ? (rejected) => credentials.authorization(spec, "discovery", { rejected }) : undefined,
      });
      const caps = upstream.capabilities;
      const count = async (method: string, key: string) => {
        const result = await upstream!.request({ method, params: {} } as never, { timeoutMs: spec.callTimeoutMs });
        const list = result[key];
        return Array.isArray(list) ? list.length : 0;
      };
      const tools = caps.tools ? await count("tools/list", "tools") : 0;
      const resources = caps.resources ? await count("resources/list", "resources") : 0;
      const prompts = caps.prompts ? await count("prompts/list", "prompts") : 0;
      const info = upstream.serverInfo;
      const server = { name: redactFor(spec, info.name, 200), version: redactFor(spec, info.version, 100) };
      return { result: { ok: true, latency_ms: elapsed(), server, tools, resources, prompts }, error: null, stderr: [] };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { result: { ok: false, latency_ms: elapsed(), server: null, tools: 0, resources: 0, prompts: 0 }, error: message, stderr: stderr.snapshot() };
    } finally {
      await upstream?.close();
    }
  }
}
