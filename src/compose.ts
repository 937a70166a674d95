// The composition root: everything Switchboard runs on, built from the config in one place, for the
// server, the CLI and the tests (which pass a fake gateway). Nothing else assembles dependencies.
import type { UsageSink } from "./domain/monitoring/types.ts";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config/load.ts";
import { openStore as openDatabaseStore, type Db, type DbHandle } from "./db/client.ts";
import { createKeyVerifier, LastUsedRecorder } from "./domain/access/api-keys.ts";
import { LoginThrottle, type SignInThrottle, type ThrottleLimits } from "./domain/access/login-throttle.ts";
import { SharedLoginThrottle } from "./domain/access/sign-in-attempts.ts";
import { SetupGate } from "./domain/access/setup.ts";
import { getUser, PASSWORD_COST, type PasswordCost } from "./domain/access/users.ts";
import { createChangeFeed } from "./db/change-probe.ts";
import { syncConfigAgents } from "./domain/agents/config.ts";
import { agentSpecLookup } from "./domain/agents/agents.ts";
import { CallMetrics, fanOutSink } from "./domain/monitoring/call-metrics.ts";
import { syncConfigConnections } from "./domain/connections/config.ts";
import { resourceExistsIn } from "./domain/resources.ts";
import { auditConfigAgents, auditConfigConnections } from "./domain/monitoring/config-audit.ts";
import { Gateway } from "./gateway/gateway.ts";
import { ClusterNode, type SessionDirectory } from "./gateway/cluster/cluster.ts";
import { ReplicaRegistry } from "./gateway/cluster/registry.ts";
import { dialectOf } from "./db/store.ts";
import { OFFLINE_GATEWAY } from "./gateway/offline.ts";
import type { RunningGateway } from "./gateway/serving.ts";
import { AddressPolicy } from "./gateway/upstream/address-policy.ts";
import { createUpstreamAuthorizer } from "./gateway/upstream/oauth/authorizer.ts";
import type { UpstreamAuthorizer } from "./gateway/upstream/oauth/types.ts";
import { upstreamOAuthStore } from "./domain/connections/upstream-oauth.ts";
import { OAuthCredentials } from "./gateway/upstream/oauth/credentials.ts";
import { oauthConnectionLookup } from "./operations/connection-oauth.ts";
import type { AppDeps } from "./http/context.ts";
import { createClientMetadataFetcher } from "./http/oauth/client-metadata.ts";
import { AuditLog } from "./domain/monitoring/audit.ts";
import { ImmediateUsageSink, UsageRecorder } from "./domain/monitoring/recorder.ts";
import { createAccessTokenVerifier, createGrantLastUsedRecorder } from "./domain/oauth/authorizations.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { connectionStore, specLookup } from "./operations/connections.ts";
import { CATALOG } from "./operations/index.ts";
import type { OperationDeps } from "./operations/registry.ts";
import { deriveKeys, type ServerKeys } from "./security/keys.ts";
import { loadOrCreateSecret, SECRET_FILE } from "./security/secret.ts";

/** A start-up failure with a message for the operator (exit code 1). */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** The persistent state a server runs on: the open database and the keys derived from the secret. */
export type Store = { handle: DbHandle; keys: ServerKeys; secretSource: string };

/**
 * Opens the data dir and the database, reads (or creates) the server secret, and writes the
 * connections and agents the config declares. Throws StartupError; nothing is left open on failure.
 */
export async function openStore(config: Config, logger: Logger): Promise<Store> {
  let handle: DbHandle;
  try {
    handle = await openDatabaseStore(config);
  } catch (err) {
    throw new StartupError((err as Error).message, { cause: err });
  }
  try {
    // On SQLite the data dir holds the database and (unless configured) the secret. On PostgreSQL
    // nothing is written there: the config must set the secret (config validation insists), so a
    // replica runs on a read-only filesystem.
    if (handle.dialect === "sqlite") accessSync(config.dataDir, constants.W_OK);
  } catch (err) {
    await handle.close();
    throw new StartupError((err as Error).message, { cause: err });
  }
  try {
    let secret: string;
    try {
      secret = loadOrCreateSecret({ configured: config.security.secret, dataDir: config.dataDir });
    } catch (err) {
      throw new StartupError((err as Error).message, { cause: err });
    }
    const keys = deriveKeys(secret);
    await applyDeclared(config, logger, handle.db, keys);
    const secretSource = config.security.secret ? "set in the config" : `generated into ${join(config.dataDir, SECRET_FILE)}`;
    return { handle, keys, secretSource };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * The file is the truth for the connections and agents it declares: written (or removed) before
 * anything serves, connections first (agents select them by slug).
 */
async function applyDeclared(config: Config, logger: Logger, db: Db, keys: ServerKeys): Promise<void> {
  // Each connection and agent the file created, changed, took over or removed is a change in the audit log.
  const audit = new AuditLog(db, logger);
  let synced: Awaited<ReturnType<typeof syncConfigConnections>>;
  try {
    synced = await syncConfigConnections(connectionStore({ db, keys, config }), config.connections);
  } catch (err) {
    throw new StartupError(`cannot apply the connections of the config: ${(err as Error).message}`, { cause: err });
  }
  auditConfigConnections(audit, synced, config.connections);
  for (const slug of synced.adopted) logger.warn("connection made in the admin is now declared in the config, which takes it over", { slug });
  if (synced.changed.length + synced.removed.length > 0) {
    logger.info("connections from the config applied", { changed: synced.changed.map((c) => c.slug), removed: synced.removed, keys_changed: synced.keysChanged });
  }
  let agents: Awaited<ReturnType<typeof syncConfigAgents>>;
  try {
    agents = await syncConfigAgents(db, config.agents);
  } catch (err) {
    throw new StartupError(`cannot apply the agents of the config: ${(err as Error).message}`, { cause: err });
  }
  auditConfigAgents(audit, agents, config.agents);
  // On PostgreSQL the rows are written a moment later: the start waits for them, so none is lost to a quick stop.
  await audit.settled();
  for (const slug of agents.adopted) logger.warn("agent made in the admin is now declared in the config, which takes it over", { slug });
  if (agents.changed.length + agents.removed.length > 0) {
    logger.info("agents from the config applied", { changed: agents.changed.map((a) => a.slug), removed: agents.removed, keys_changed: agents.keysChanged });
  }
}

/** The gateway to the upstreams, with the config's limits, reading specs from the store; every MCP request recorded into `usage` (when monitoring is enabled). */
export function buildGateway(config: Config, logger: Logger, store: Store, usage?: UsageSink, directory?: SessionDirectory): Gateway {
  const addressPolicy = new AddressPolicy(config.gateway);
  return new Gateway({
    sessionIdleMs: config.gateway.session_idle_timeout,
    maxSessions: config.gateway.max_sessions,
    stderrLines: config.gateway.stderr_lines,
    maxBodyBytes: config.server.max_body_size,
    logger,
    lookup: specLookup({ db: store.handle.db, keys: store.keys, config }),
    lookupAgent: agentSpecLookup({ db: store.handle.db }),
    addressPolicy,
    maxConcurrentTests: config.gateway.max_concurrent_tests,
    credentials: buildUpstreamCredentials(config, logger, store, addressPolicy),
    usage:
      usage && config.monitoring.enabled
        ? { sink: usage, payloadMaxBytes: config.monitoring.payload_max_size, redactPatterns: config.monitoring.redact_patterns }
        : undefined,
    directory,
    // A connection changed on another replica is applied here before its next request. PostgreSQL only:
    // its feed moves with writes to the cached tables, where SQLite's WAL probe moves with every commit
    // (usage rows too), and one SQLite process changes its connections through its own apply().
    changes: dialectOf(store.handle.db) === "postgres" ? createChangeFeed(store.handle) : undefined,
  });
}

/**
 * This replica among several, when clustering is on (PostgreSQL, or cluster.enabled on a shared SQLite
 * file); undefined on a single replica. `listeningUrl` is where the socket listens (the default address
 * the others reach it at); nothing is written until the node is started.
 */
export function buildCluster(config: Config, logger: Logger, store: Store, listeningUrl: string): ClusterNode | undefined {
  if (!config.cluster.enabled && dialectOf(store.handle.db) !== "postgres") return undefined;
  const registry = new ReplicaRegistry({
    db: store.handle.db,
    url: config.cluster.advertise_url ?? listeningUrl,
    heartbeatMs: config.cluster.heartbeat,
    deadAfterMs: config.cluster.dead_after,
    logger,
  });
  return new ClusterNode(registry, store.keys.replicaForward, logger);
}

/**
 * The HTTP app's dependencies over an open store and one gateway. `config` is the final one (its
 * public_url is the address clients use), so nothing below has to read it lazily.
 */
export function buildAppDeps(config: Config, logger: Logger, store: Store, gateway: RunningGateway, options: BuildOptions & { usage?: Usage; cluster?: ClusterNode } = {}): AppDeps {
  const { handle, keys } = store;
  const probe = createChangeFeed(handle);
  const { recorder: usageRecorder, callMetrics, sink: usage } = options.usage ?? buildUsage(config, logger, handle.db);
  return {
    config,
    db: handle.db,
    sqlite: handle.sqlite,
    keys,
    secretSource: store.secretSource,
    logger,
    setup: new SetupGate(),
    // Production's argon2 cost unless a test injects a cheaper one (never a setting: see users.ts).
    passwordCost: options.passwordCost ?? PASSWORD_COST,
    throttle: signInThrottle(config, handle.db),
    startedAt: new Date(),
    catalog: CATALOG,
    resourceExists: resourceExistsIn(handle.db),
    gateway,
    upstreamAuth: buildUpstreamAuthorizer(config, logger, handle.db, keys),
    cluster: options.cluster,
    callMetrics,
    verifyKey: createKeyVerifier(handle.db, keys.tokenHmac, probe),
    lastUsed: new LastUsedRecorder(handle.db),
    usageRecorder,
    usage,
    audit: new AuditLog(handle.db, logger),
    oauth: {
      verifyAccessToken: createAccessTokenVerifier(handle.db, keys.tokenHmac, probe),
      grantLastUsed: createGrantLastUsedRecorder(handle.db),
      fetchClientMetadata: createClientMetadataFetcher({
        allowedHosts: config.oauth.client_metadata_hosts,
        // Plain http to a loopback fixture: only a test builder can ask for it, no setting can.
        allowLoopbackHttpForTests: options.allowLoopbackClientMetadataForTests === true,
      }),
    },
  };
}

/**
 * The bearer tokens of OAuth connections' requests (shared or per user), refreshed through the gateway's
 * address policy; links are cached until the database's change feed moves, so a disconnect or a
 * re-authorization on any replica applies on the next request.
 */
export function buildUpstreamCredentials(config: Config, logger: Logger, store: Store, addressPolicy: AddressPolicy): OAuthCredentials {
  const { db } = store.handle;
  return new OAuthCredentials({
    store: upstreamOAuthStore(connectionStore({ db, keys: store.keys, config })),
    isAdmin: async (userId) => (await getUser(db, userId))?.role === "admin",
    probe: createChangeFeed(store.handle),
    publicUrl: config.server.public_url,
    addressPolicy,
    logger,
  });
}

/**
 * Switchboard as an OAuth client of its upstreams, over the same address policy as the gateway's (every
 * discovered URL obeys gateway.upstream_allow / upstream_deny) and the connections' sealed store.
 */
export function buildUpstreamAuthorizer(config: Config, logger: Logger, db: Db, keys: ServerKeys): UpstreamAuthorizer {
  const deps = { db, keys, config };
  return createUpstreamAuthorizer({
    store: upstreamOAuthStore(connectionStore(deps)),
    connection: oauthConnectionLookup(deps),
    policy: new AddressPolicy(config.gateway),
    publicUrl: config.server.public_url,
    hmacKey: keys.tokenHmac,
    logger,
  });
}

/**
 * The sign-in throttle: in the database when clustering is on (PostgreSQL, or cluster.enabled), so that
 * every replica counts the same attempts; else in memory (one process: no write per failed attempt).
 */
function signInThrottle(config: Config, db: Db): SignInThrottle {
  const limits: ThrottleLimits = {
    windowMs: config.security.login_window,
    maxPerAccount: config.security.login_max_per_account,
    maxPerIp: config.security.login_max_per_ip,
  };
  return config.cluster.enabled || dialectOf(db) === "postgres" ? new SharedLoginThrottle(db, limits) : new LoginThrottle(limits);
}

/**
 * Where usage goes, built once and shared by the gateway and the app: the recorder (queued, written in
 * batches; nothing when [monitoring] is disabled), the in-memory counters of /metrics, and the one sink
 * every capture point records into, which feeds both.
 */
export type Usage = { recorder: UsageRecorder; callMetrics: CallMetrics; sink: UsageSink };

export function buildUsage(config: Config, logger: Logger, db: Db): Usage {
  const recorder = new UsageRecorder(db, {
    enabled: config.monitoring.enabled,
    queueSize: config.monitoring.queue_size,
    flushIntervalMs: config.monitoring.flush_interval,
    flushRows: config.monitoring.flush_rows,
    logger,
  });
  const callMetrics = new CallMetrics();
  return { recorder, callMetrics, sink: fanOutSink(recorder, callMetrics) };
}

/**
 * What the server and the tests may choose beyond the config. `allowLoopbackClientMetadataForTests`
 * lets a test serve client ID metadata documents from 127.0.0.1 over http; no config can set it.
 */
export type BuildOptions = { passwordCost?: PasswordCost; allowLoopbackClientMetadataForTests?: boolean };

/**
 * Everything at once, for a config whose public_url is final: the store, the gateway (or the one
 * given, say a test's fake of the same contract) and the app's deps. Nothing listens.
 */
export async function compose(
  config: Config,
  logger: Logger,
  options: BuildOptions & { gateway?: RunningGateway; usage?: UsageSink } = {},
): Promise<{ deps: AppDeps; handle: DbHandle }> {
  const store = await openStore(config, logger);
  const { gateway, usage: testSink, ...build } = options;
  const usage = buildUsage(config, logger, store.handle.db);
  // A test may hand the gateway a sink of its own to read records from; otherwise the shared one.
  const deps = buildAppDeps(config, logger, store, gateway ?? buildGateway(config, logger, store, testSink ?? usage.sink), { ...build, usage });
  return { deps, handle: store.handle };
}

/**
 * The operations' dependencies for a command run on the host (the CLI): the database it opened, no
 * running gateway (an offline stand-in), and the secret read only when an operation needs the keys.
 */
export function buildHostDeps(config: Config, handle: DbHandle): OperationDeps {
  let keys: ServerKeys | undefined;
  let upstreamAuth: UpstreamAuthorizer | undefined;
  return {
    db: handle.db,
    // Listing or revoking keys needs no secret: it is read (or created, on a fresh data directory) only
    // when an operation mints a token.
    get keys(): ServerKeys {
      keys ??= deriveKeys(loadOrCreateSecret({ configured: config.security.secret, dataDir: config.dataDir }));
      return keys;
    },
    config,
    logger: silentLogger,
    catalog: CATALOG,
    resourceExists: resourceExistsIn(handle.db),
    gateway: OFFLINE_GATEWAY,
    // Disconnecting needs the secret (the tokens are sealed): built on first use, like the keys.
    get upstreamAuth(): UpstreamAuthorizer {
      upstreamAuth ??= buildUpstreamAuthorizer(config, silentLogger, handle.db, this.keys);
      return upstreamAuth;
    },
    startedAt: new Date(),
    // A command is one short run: its usage row is written at once, not queued (nothing to keep fast).
    usage: config.monitoring.enabled ? new ImmediateUsageSink(handle.db) : { record: () => {} },
    audit: new AuditLog(handle.db),
  };
}
