// The upstream OAuth store's contract (UpstreamOAuthStore) in memory, for tests of what uses it (the
// credentials service, the gateway) without a database; the database store has tests of its own.
import type { OAuthFlow, OAuthLink, OAuthLinkSummary, OAuthSubject, UpstreamOAuthStore, UpstreamRegistration, UpstreamTokens } from "../../src/domain/connections/oauth-types.ts";

/** The store's contract in memory, with hooks to play another replica. */
export class MemoryOAuthStore implements UpstreamOAuthStore {
  registrations = new Map<string, UpstreamRegistration>();
  links = new Map<string, OAuthLink>();
  flows = new Map<string, OAuthFlow>();
  reads = 0;
  marked: { subject: OAuthSubject; reason: string }[] = [];
  /** Runs before replaceTokens writes (another replica's refresh landing first). */
  beforeReplace: (() => void) | null = null;
  private key(c: string, s: OAuthSubject): string {
    return `${c}|${s}`;
  }
  async getRegistration(id: string): Promise<UpstreamRegistration | null> {
    return this.registrations.get(id) ?? null;
  }
  async saveRegistration(r: UpstreamRegistration): Promise<void> {
    this.registrations.set(r.connectionId, r);
  }
  async clearRegistration(id: string): Promise<void> {
    this.registrations.delete(id);
  }
  async getLink(c: string, s: OAuthSubject): Promise<OAuthLink | null> {
    this.reads++;
    const link = this.links.get(this.key(c, s));
    return link ? structuredClone(link) : null;
  }
  async saveLink(l: { connectionId: string; subject: OAuthSubject; tokens: UpstreamTokens; account: string | null; connectedBy: string; now?: Date }): Promise<void> {
    const now = l.now ?? new Date();
    this.links.set(this.key(l.connectionId, l.subject), {
      connectionId: l.connectionId,
      subject: l.subject,
      userId: l.subject === "shared" ? null : l.subject,
      state: "connected",
      account: l.account,
      expiresAt: l.tokens.expiresAt,
      scope: l.tokens.scope,
      lastError: null,
      connectedBy: l.connectedBy,
      connectedAt: now,
      updatedAt: now,
      tokens: l.tokens,
    });
  }
  async replaceTokens(c: string, s: OAuthSubject, previous: string | null, tokens: UpstreamTokens, now = new Date()): Promise<boolean> {
    this.beforeReplace?.();
    const link = this.links.get(this.key(c, s));
    if (!link || link.tokens.refreshToken !== previous) return false;
    Object.assign(link, { tokens, expiresAt: tokens.expiresAt, scope: tokens.scope, updatedAt: now, state: "connected", lastError: null });
    return true;
  }
  async markNeedsReauth(c: string, s: OAuthSubject, reason: string, _now?: Date, options: { ifRefreshToken?: string | null } = {}): Promise<boolean> {
    const link = this.links.get(this.key(c, s));
    if (!link || (options.ifRefreshToken !== undefined && link.tokens.refreshToken !== options.ifRefreshToken)) return false;
    this.marked.push({ subject: s, reason });
    Object.assign(link, { state: "needs_reauth", lastError: reason });
    return true;
  }
  async deleteLink(c: string, s: OAuthSubject): Promise<boolean> {
    return this.links.delete(this.key(c, s));
  }
  async listLinks(c: string): Promise<OAuthLinkSummary[]> {
    return [...this.links.values()].filter((l) => l.connectionId === c).map(({ tokens: _t, ...summary }) => summary);
  }
  async listLinksOfUser(u: string): Promise<OAuthLinkSummary[]> {
    return [...this.links.values()].filter((l) => l.userId === u).map(({ tokens: _t, ...summary }) => summary);
  }
  async createFlow(stateHash: string, flow: OAuthFlow): Promise<void> {
    this.flows.set(stateHash, flow);
  }
  /** Single use, as the contract says: taken (and so spent) even when expired. */
  async takeFlow(stateHash: string, now = new Date()): Promise<OAuthFlow | null> {
    const flow = this.flows.get(stateHash);
    this.flows.delete(stateHash);
    return flow && flow.expiresAt > now ? flow : null;
  }
  async pruneFlows(): Promise<number> {
    return 0;
  }
}

