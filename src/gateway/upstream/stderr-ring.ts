// The last lines a connection's stdio processes wrote to stderr, kept for its admin page at a bounded
// cost: a server flooding stderr must not cost the gateway CPU in proportion to what it writes. Each
// second, the first `bytesPerSecond` bytes are split into lines; past that, chunks are only counted
// (the pipe is still drained, so the server never blocks), and when the flood pauses, is looked at or
// ends, a "[switchboard] N bytes of stderr dropped" line is added, then the last lines of the last
// chunk (so what a server said last, say before crashing, is still shown).

/** Most bytes a second that are split into lines (more than any log meant for people). */
const DEFAULT_BYTES_PER_SECOND = 64 * 1024;
/** The longest line kept whole, and the most of an unfinished line held. */
const MAX_LINE = 2000;
const MAX_PARTIAL = 4096;

export type LineRingOptions = { bytesPerSecond?: number; now?: () => number };

export class LineRing {
  private readonly lines: string[] = [];
  private partial = "";
  private readonly bytesPerSecond: number;
  private readonly now: () => number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private windowBytes = 0;
  /** Bytes dropped since the last notice, not counting `lastDropped`. */
  private dropped = 0;
  /** The last chunk dropped: its last lines are shown once the flood pauses. */
  private lastDropped: Buffer | null = null;

  constructor(
    private readonly limit: number,
    options: LineRingOptions = {},
  ) {
    this.bytesPerSecond = options.bytesPerSecond ?? DEFAULT_BYTES_PER_SECOND;
    this.now = options.now ?? Date.now;
  }

  /** What a process wrote to stderr (any chunking); false when it was over the budget (counted, not read). */
  write(chunk: Buffer | string): boolean {
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.settle();
      this.windowStart = now;
      this.windowBytes = 0;
    }
    const size = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (this.lastDropped === null && this.windowBytes + size <= this.bytesPerSecond) {
      this.windowBytes += size;
      this.take(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      return true;
    }
    // Over the budget: counted, not read. Only the newest chunk is held (by reference, no copy).
    if (this.lastDropped) this.dropped += this.lastDropped.length;
    this.lastDropped = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    return false;
  }

  /** A line of the gateway's own (e.g. "[switchboard] process exited"), after whatever came before it. */
  push(line: string): void {
    this.settle();
    this.add(line);
  }

  snapshot(): string[] {
    this.settle();
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }

  /** Ends a stretch of dropping: the notice, then the last lines of the last dropped chunk. */
  private settle(): void {
    const last = this.lastDropped;
    if (!last) return;
    this.lastDropped = null;
    // The chunk's first line began in bytes that were dropped: only the lines after it are whole.
    const text = last.toString("utf8");
    const firstBreak = text.indexOf("\n");
    const kept = firstBreak === -1 ? "" : text.slice(firstBreak + 1);
    const dropped = this.dropped + last.length - Buffer.byteLength(kept);
    this.dropped = 0;
    if (this.partial) this.add(`${this.partial}…`);
    this.partial = "";
    this.add(`[switchboard] ${dropped} bytes of stderr dropped`);
    // The notice stays in view: the flood's last lines fill the rest of the ring.
    this.take(kept, Math.max(0, this.limit - 1));
  }

  /** Splits text into lines; only the last `keep` (those the ring can hold) are stored. */
  private take(text: string, keep = this.limit): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts.length > keep ? parts.slice(parts.length - keep) : parts) this.add(line);
    if (this.partial.length > MAX_PARTIAL) {
      this.add(this.partial);
      this.partial = "";
    }
  }

  private add(line: string): void {
    this.lines.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
  }
}
