// A server-sent events parser (the WHATWG "event stream" format): fed decoded text in chunks of any
// size, it calls back once per dispatched event. Lines end with CRLF, LF or CR; `data` lines are joined
// with LF; comments and unknown fields are ignored; an event without data is not dispatched.

export type SseEvent = { event: string; data: string; id: string | undefined; retry: number | undefined };

export class SseParser {
  /** The last event id seen (it persists across events, as in EventSource). */
  lastEventId: string | undefined;
  /** The start of a line whose end has not arrived yet. */
  private partial: string[] = [];
  private data: string[] = [];
  private event = "";
  /** The reconnection delay the server asked for, in ms. */
  retry: number | undefined;
  /** A chunk ended with CR: an LF starting the next chunk belongs to that line break. */
  private pendingCr = false;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  feed(text: string): void {
    let start = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith("\n")) start = 1;
    }
    // Only the new text is searched: a long line arriving in many chunks costs time linear in its size.
    const breaks = /[\r\n]/g;
    for (;;) {
      breaks.lastIndex = start;
      const found = breaks.exec(text);
      if (!found) break;
      const end = found.index;
      const piece = text.slice(start, end);
      this.line(this.partial.length === 0 ? piece : this.partial.join("") + piece);
      this.partial = [];
      if (text[end] === "\r" && end + 1 === text.length) this.pendingCr = true;
      start = text[end] === "\r" && text[end + 1] === "\n" ? end + 2 : end + 1;
    }
    if (start < text.length) this.partial.push(text.slice(start));
  }

  private line(line: string): void {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        return;
      case "event":
        this.event = value;
        return;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        return;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        return;
    }
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = "";
    if (data.length === 0) return;
    this.onEvent({ event: event || "message", data: data.join("\n"), id: this.lastEventId, retry: this.retry });
  }
}
