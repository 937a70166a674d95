// The bearer token each request to an OAuth connection carries: whose link it is (the shared account, the
// calling user's own, or for discovery an admin's), kept in memory until the database changes, refreshed
// before it expires or when the upstream refused it, once at a time per link.
import { refreshAuthorization } from "@modelcontextprotocol/sdk/client/auth.js";
import { InvalidGrantError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { ChangeProbe } from "../../../db/change-probe.ts";
import { connectPath, NeedsAuthorizationError, SHARED_SUBJECT, type OAuthLink, type OAuthSubject, type UpstreamOAuthStore, type UpstreamRegistration, type UpstreamTokens } from "../../../domain/connections/oauth-types.ts";
import type { ConnectionSpec } from "../../../domain/connections/spec.ts";
import type { Logger } from "../../../logger.ts";
import { rememberSent } from "../../redact.ts";
import type { AddressPolicy } from "../address-policy.ts";
import { boundedFetch, describeFailure } from "./discovery.ts";
import { clientAuthentication, tokenEndpointMetadata, tokensFrom } from "./token-calls.ts";
import type { CredentialSubject, UpstreamCredentials } from "./types.ts";

/** Refreshed when the access token has less than this left (or half its lifetime, when shorter). */
const REFRESH_MARGIN_MS = 60_000;
/** Most time one refresh may take (the token endpoint is a third party's). */
const REFRESH_TIMEOUT_MS = 15_000;
/**
 * After a refused refresh whose link still holds the same refresh token, how long to wait before reading
 * it once more: another replica may have spent that token a moment ago and not yet written what it got.
 */
const REFUSAL_RECHECK_MS = 500;

export type CredentialsSettings = {
  store: UpstreamOAuthStore;
  /** Whether the user is an admin now (read through the users domain): only an admin's link serves discovery. */
  isAdmin: (userId: string) => Promise<boolean>;
  /** The database's change probe: links read are kept until it moves (a disconnect anywhere applies on the next request). */
  probe: ChangeProbe;
  /** server.public_url, for the page named in NeedsAuthorizationError. */
  publicUrl: string;
  /** The gateway's address policy: the token endpoint is reached through it (bounded like every OAuth endpoint's answer). */
  addressPolicy: AddressPolicy;
  logger: Logger;
  now?: () => number;
  refreshTimeoutMs?: number;
  refusalRecheckMs?: number;
};

/** A refresh that could not be made for a transient reason (the token endpoint unreachable, slow or failing): the link stays as it is. */
export class RefreshFailedError extends Error {
  constructor(title: string, why: string) {
    super(`Cannot refresh the authorization for "${title}" right now (${why}); try again shortly.`);
    this.name = "RefreshFailedError";
  }
}

/** The credentials service over the store (see UpstreamCredentials). */
export class OAuthCredentials implements UpstreamCredentials {
  private readonly links = new Map<string, OAuthLink | null>();
  /** The per-user discovery subject of each connection (null: no admin link), cached like the links. */
  private readonly discoverySubjects = new Map<string, OAuthSubject | null>();
  private seen: string | null = null;
  private generation = 0;
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly now: () => number;
  /** The token endpoint's fetch: policy-checked, timed out and its answer bounded. */
  private readonly fetchFn: typeof fetch;

  constructor(private readonly settings: CredentialsSettings) {
    this.now = settings.now ?? Date.now;
    this.fetchFn = boundedFetch(settings.addressPolicy, { timeoutMs: settings.refreshTimeoutMs ?? REFRESH_TIMEOUT_MS });
  }

  async authorization(spec: ConnectionSpec, who: CredentialSubject, options: { rejected?: string } = {}): Promise<string> {
    if (!spec.oauth) throw new Error(`"${spec.slug}" does not use OAuth`);
    await this.observe();
    const subject = await this.subjectOf(spec, who);
    if (subject === null) throw this.needs(spec, "not_connected", { discovery: true });
    const link = await this.link(spec.id, subject);
    if (!link) throw this.needs(spec, "not_connected");
    if (link.state === "needs_reauth") throw this.needs(spec, "needs_reauth");
    const value = bearer(spec.id, link);
    const rejected = options.rejected === value;
    if (!rejected && !this.expiresSoon(link)) return value;
    // One refresh per link at a time: concurrent callers wait for it and share its answer.
    const key = keyOf(spec.id, subject);
    const running = this.refreshing.get(key);
    if (running) return running;
    const refresh = this.refresh(spec, subject, link, rejected).finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, refresh);
    return refresh;
  }

  /** Drops what is cached when the database changed since the last look. */
  private async observe(): Promise<void> {
    const version = this.settings.probe();
    const value = typeof version === "string" ? version : await version;
    if (value === this.seen) return;
    this.seen = value;
    this.generation++;
    this.links.clear();
    this.discoverySubjects.clear();
  }

  /** Whose link a request uses. Per-user discovery: the admin who connected most recently, never a member. */
  private async subjectOf(spec: ConnectionSpec, who: CredentialSubject): Promise<OAuthSubject | null> {
    if (spec.oauth!.mode === "shared") return SHARED_SUBJECT;
    if (who !== "discovery") return who.userId as OAuthSubject;
    if (this.discoverySubjects.has(spec.id)) return this.discoverySubjects.get(spec.id)!;
    const started = this.generation;
    const links = (await this.settings.store.listLinks(spec.id))
      .filter((l) => l.userId !== null && l.subject !== SHARED_SUBJECT && l.state === "connected")
      .sort((a, b) => b.connectedAt.getTime() - a.connectedAt.getTime());
    let chosen: OAuthSubject | null = null;
    for (const l of links) {
      if (await this.settings.isAdmin(l.userId!)) {
        chosen = l.subject;
        break;
      }
    }
    if (started === this.generation) this.discoverySubjects.set(spec.id, chosen);
    return chosen;
  }

  /** The link as stored, cached until the probe moves (a load that raced a change is not cached). */
  private async link(connectionId: string, subject: OAuthSubject): Promise<OAuthLink | null> {
    const key = keyOf(connectionId, subject);
    if (this.links.has(key)) return this.links.get(key)!;
    const started = this.generation;
    const link = await this.settings.store.getLink(connectionId, subject);
    if (started === this.generation) this.links.set(key, link);
    return link;
  }

  private expiresSoon(link: OAuthLink): boolean {
    const expiresAt = link.tokens.expiresAt?.getTime();
    if (expiresAt === undefined) return false;
    // A token that lives less than two minutes is refreshed at half its life, not at every use.
    const lifetime = expiresAt - link.updatedAt.getTime();
    const margin = lifetime > 0 ? Math.min(REFRESH_MARGIN_MS, lifetime / 2) : REFRESH_MARGIN_MS;
    return expiresAt - this.now() <= margin;
  }

  private expired(link: OAuthLink): boolean {
    const expiresAt = link.tokens.expiresAt?.getTime();
    return expiresAt !== undefined && expiresAt <= this.now();
  }

  private async refresh(spec: ConnectionSpec, subject: OAuthSubject, link: OAuthLink, rejected: boolean): Promise<string> {
    const { store } = this.settings;
    const refreshToken = link.tokens.refreshToken;
    if (refreshToken === null) {
      // Nothing to refresh with: the token is used until it expires (or is refused), then someone must authorize again.
      if (!rejected && !this.expired(link)) return bearer(spec.id, link);
      return this.refused(spec, subject, link, rejected ? "the upstream refused the access token and there is no refresh token" : "the access token expired and there is no refresh token");
    }
    const registration = await store.getRegistration(spec.id);
    if (!registration) return this.refused(spec, subject, link, "the registration at the authorization server is gone");
    let tokens: UpstreamTokens;
    try {
      tokens = await this.requestRefresh(registration, refreshToken, link);
    } catch (err) {
      if (err instanceof InvalidGrantError) return this.refused(spec, subject, link, "the authorization server refused the refresh (invalid_grant)");
      // Never the endpoint's text: it is a third party's and might echo the request (the refresh token, the client secret).
      const why = `the token endpoint: ${describeFailure(err)}`;
      this.settings.logger.warn("upstream token refresh failed", { connection: spec.id, subject, error: why });
      throw new RefreshFailedError(titleOf(spec), why);
    }
    const started = this.generation;
    if (await store.replaceTokens(spec.id, subject, refreshToken, tokens, new Date(this.now()))) {
      const updated: OAuthLink = { ...link, tokens, expiresAt: tokens.expiresAt, scope: tokens.scope, updatedAt: new Date(this.now()) };
      this.remember(spec.id, subject, updated, started);
      return bearer(spec.id, updated);
    }
    // Another replica refreshed first (our refresh token was no longer the stored one): use what it stored.
    return this.current(spec, subject);
  }

  private requestRefresh(registration: UpstreamRegistration, refreshToken: string, link: OAuthLink): Promise<UpstreamTokens> {
    const started = this.now();
    return refreshAuthorization(registration.issuer, {
      // The endpoint and client authentication as registered, as the code exchange used them: nothing is discovered again on a refresh.
      metadata: tokenEndpointMetadata(registration),
      clientInformation: { client_id: registration.clientId },
      addClientAuthentication: clientAuthentication(registration),
      refreshToken,
      resource: new URL(registration.resource),
      fetchFn: this.fetchFn,
    }).then((issued) => tokensFrom(issued, started, { refreshToken, scope: link.tokens.scope }));
  }

  /**
   * The refresh was refused. Another replica may have rotated the token meanwhile: if the stored link
   * moved on, its tokens are used; if it still holds the same refresh token, only this subject's link is
   * marked as needing re-authorization.
   */
  private async refused(spec: ConnectionSpec, subject: OAuthSubject, link: OAuthLink, reason: string): Promise<string> {
    const { store } = this.settings;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await Bun.sleep(this.settings.refusalRecheckMs ?? REFUSAL_RECHECK_MS);
      const started = this.generation;
      const again = await store.getLink(spec.id, subject);
      if (!again) throw this.needs(spec, "not_connected");
      if (again.state === "needs_reauth") throw this.needs(spec, "needs_reauth");
      if (again.tokens.refreshToken !== link.tokens.refreshToken || again.tokens.accessToken !== link.tokens.accessToken) {
        this.remember(spec.id, subject, again, started);
        return bearer(spec.id, again);
      }
    }
    // Conditional: if another replica rotated the refresh token after the re-reads above, its link stands.
    const marked = await store.markNeedsReauth(spec.id, subject, reason, new Date(this.now()), { ifRefreshToken: link.tokens.refreshToken });
    this.links.delete(keyOf(spec.id, subject));
    if (!marked) return this.current(spec, subject);
    this.settings.logger.info("upstream link needs re-authorization", { connection: spec.id, subject, reason });
    throw this.needs(spec, "needs_reauth");
  }

  /** The link as now stored, after another replica's refresh. */
  private async current(spec: ConnectionSpec, subject: OAuthSubject): Promise<string> {
    const started = this.generation;
    const again = await this.settings.store.getLink(spec.id, subject);
    if (!again) throw this.needs(spec, "not_connected");
    if (again.state === "needs_reauth") throw this.needs(spec, "needs_reauth");
    this.remember(spec.id, subject, again, started);
    return bearer(spec.id, again);
  }

  /**
   * Caches a link read (or written) since generation `started`, unless the database changed meanwhile:
   * a disconnect that committed while it was read must not be undone by caching what came before it.
   */
  private remember(connectionId: string, subject: OAuthSubject, link: OAuthLink, started: number): void {
    if (started === this.generation) this.links.set(keyOf(connectionId, subject), link);
  }

  private needs(spec: ConnectionSpec, reason: "not_connected" | "needs_reauth", options: { discovery?: boolean } = {}): NeedsAuthorizationError {
    const mode = spec.oauth!.mode;
    return new NeedsAuthorizationError(spec.id, titleOf(spec), mode, reason, this.settings.publicUrl.replace(/\/+$/, "") + connectPath(spec.id, mode), options);
  }
}

function keyOf(connectionId: string, subject: OAuthSubject): string {
  return `${connectionId}\u0000${subject}`;
}

/**
 * The Authorization value of `link`, about to be sent for `connectionId`: its tokens are noted first, so
 * that whatever the upstream echoes of them is redacted from its text (redact.ts).
 */
function bearer(connectionId: string, link: OAuthLink): string {
  rememberSent(connectionId, [link.tokens.accessToken, link.tokens.refreshToken]);
  return `Bearer ${link.tokens.accessToken}`;
}

function titleOf(spec: ConnectionSpec): string {
  return spec.title || spec.slug;
}
