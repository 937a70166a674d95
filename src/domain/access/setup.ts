// The one-time setup link that lets the first admin create an account in the browser.
import { randomBytes, timingSafeEqual } from "node:crypto";

/** Holds the setup token while the server has no users; it works once and is kept only in memory. */
export class SetupGate {
  private token: string | null = null;

  /** Issues a fresh token (replacing any earlier one) and returns it. */
  open(): string {
    this.token = randomBytes(24).toString("base64url");
    return this.token;
  }

  isOpen(): boolean {
    return this.token !== null;
  }

  /** True when `candidate` is the current token (compared in constant time). */
  matches(candidate: string | undefined): boolean {
    if (this.token === null || !candidate) return false;
    const a = Buffer.from(this.token);
    const b = Buffer.from(candidate);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  close(): void {
    this.token = null;
  }
}
