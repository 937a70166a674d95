// What every HTTP handler can reach: the app's dependencies and the per-request variables.
import type { Database } from "bun:sqlite";
import type { Config } from "../config/load.ts";
import type { Db } from "../db/client.ts";
import type { SignInThrottle } from "../domain/access/login-throttle.ts";
import type { SetupGate } from "../domain/access/setup.ts";
import type { PasswordCost, User } from "../domain/access/users.ts";
import type { LastUsedRecorder, VerifiedKey } from "../domain/access/api-keys.ts";
import type { ManagementCatalog } from "../domain/access/permissions.ts";
import type { RunningGateway } from "../gateway/serving.ts";
import type { ClusterNode } from "../gateway/cluster/cluster.ts";
import type { UpstreamAuthorizer } from "../gateway/upstream/oauth/types.ts";
import type { Logger } from "../logger.ts";
import type { Caller } from "../domain/access/caller.ts";
import type { ServerKeys } from "../security/keys.ts";
import type { VerifiedAccess } from "../domain/oauth/types.ts";
import type { ClientMetadataFetcher } from "./oauth/client-metadata.ts";
import type { CallMetrics } from "../domain/monitoring/call-metrics.ts";
import type { UsageRecorder } from "../domain/monitoring/recorder.ts";
import type { AuditSink, UsageSink } from "../domain/monitoring/types.ts";

/** Everything the HTTP layer needs, built once at start-up and passed in (never read from globals). */
export type AppDeps = {
  config: Config;
  db: Db;
  /** The SQLite connection under `db`, null on PostgreSQL: only the tests' raw reads use it (queries, /healthz included, go through `db`). */
  sqlite: Database | null;
  keys: ServerKeys;
  /** Where the server secret came from, for display ("set in the config" or the file path). */
  secretSource: string;
  logger: Logger;
  setup: SetupGate;
  /** The argon2id cost of password hashes: the production one except in tests. */
  passwordCost: PasswordCost;
  throttle: SignInThrottle;
  startedAt: Date;
  /** The management tools, and which members may use. */
  catalog: ManagementCatalog;
  /** Whether a connection or agent id names something that exists. */
  resourceExists: (resource: string) => Promise<boolean>;
  /** Checks an API key token: one HMAC and one indexed lookup. */
  verifyKey: (token: string) => Promise<VerifiedKey | null>;
  lastUsed: LastUsedRecorder;
  /** The batched usage recorder: its counters for /metrics, stopped (flushed) at shutdown. */
  usageRecorder: UsageRecorder;
  /** Where usage records go (the recorder, as the operations see it). */
  usage: UsageSink;
  /** Where audit records go (written synchronously). */
  audit: AuditSink;
  /**
   * The one running gateway: the operations and the admin see its control (connections, agents), the
   * /mcp routes its serving face, the server its start and stop. Tests put a fake of the same contract.
   */
  gateway: RunningGateway;
  /** Switchboard as an OAuth client of its upstreams (the admin's Authorize buttons and callback, the operations). */
  upstreamAuth: UpstreamAuthorizer;
  /** This replica among several (absent on a single replica): MCP sessions held elsewhere are forwarded. */
  cluster?: ClusterNode;
  /** Calls counted in memory since start (fed by the usage sink the gateway and operations record to), for /metrics. */
  callMetrics: CallMetrics;
  /** The authorization server's services (used whether or not [oauth] is enabled; its routes are not). */
  oauth: {
    /** Checks an OAuth access token: its audience is decided by the caller (the /mcp routes). */
    verifyAccessToken: (token: string, now?: Date) => Promise<VerifiedAccess | null>;
    /** Writes grants' last use in batches, like keys'. */
    grantLastUsed: LastUsedRecorder;
    /** Fetches a client ID metadata document (SSRF-guarded, bounded). */
    fetchClientMetadata: ClientMetadataFetcher;
  };
};

export type AppEnv = {
  Bindings: { requestIP?: (req: Request) => { address: string } | null } | undefined;
  Variables: { user: User; sessionToken: string; caller: Caller; forwardedClient: string | null };
};
