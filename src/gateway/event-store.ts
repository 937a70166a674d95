// One downstream session's resumable-stream buffer (Streamable HTTP "Resumability and Redelivery"):
// every event the gateway writes to the session's client, on any of its streams, gets an id from here
// and is kept, so a client whose connection dropped can GET with Last-Event-ID and receive what followed
// on that stream. Bounded in events and in size (oldest dropped first), per session, freed with it.
import type { EventId, EventStore, StreamId } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export type EventBufferLimits = {
  /** Most events kept per session (priming events included). */
  maxEvents: number;
  /** Most bytes kept per session: each event's JSON text plus EVENT_OVERHEAD. */
  maxBytes: number;
};

/** Defaults per session: about the last fifty tool calls with progress, at most 256 KiB. */
export const DEFAULT_EVENT_BUFFER: EventBufferLimits = { maxEvents: 256, maxBytes: 256 * 1024 };

/** What the client is told to wait before reconnecting (the SSE `retry` field of priming events), in ms. */
export const RESUME_RETRY_MS = 1000;

/** The first protocol version whose clients accept an event with empty data (the priming event). */
export const PRIMING_SINCE = "2025-11-25";

/** Counted per event besides its text: the entry, its id and the bookkeeping. */
const EVENT_OVERHEAD = 64;

/** The id's separator: the stream id before the last one, the event's sequence number after it. */
const SEPARATOR = "_";

type Entry = { readonly seq: number; readonly stream: StreamLog; readonly text: string | null; readonly size: number };

type StreamLog = {
  readonly id: StreamId;
  /** This stream's events still kept, oldest first. */
  readonly entries: Entry[];
  /** The highest sequence number of this stream that may have been dropped: replays from before it would skip events. */
  droppedThrough: number;
  /** Kept even with no events left, while its request runs (so it can still be resumed). */
  pinned: boolean;
};

/** A replay: the events of one stream after a given id, as ids and JSON text. */
export type Replay = { streamId: StreamId; events: { id: EventId; text: string }[] };

/** Whether a client speaking `protocolVersion` gets priming events (the SDK's rule: empty data broke older clients). */
export function wantsPriming(protocolVersion: string | null | undefined): boolean {
  return protocolVersion !== null && protocolVersion !== undefined && protocolVersion >= PRIMING_SINCE;
}

/** The stream an event id names (the part before its last separator), or null if it is not one of ours. */
export function streamOfEventId(eventId: string): StreamId | null {
  const at = eventId.lastIndexOf(SEPARATOR);
  return at > 0 ? eventId.slice(0, at) : null;
}

/**
 * The session's event buffer. Ids are `<stream id>_<n>`, with n counting every event of the session, so
 * an id names its stream (the SDK's transport resumes that stream) and is unique within the session.
 * Events are dropped oldest first past either cap; a resume that would need a dropped event is refused
 * (the client is told, rather than handed a stream with a hole in it).
 */
export class SessionEventStore implements EventStore {
  private readonly streams = new Map<StreamId, StreamLog>();
  /** Every kept event, oldest first, from `head` on. */
  private queue: Entry[] = [];
  private head = 0;
  private bytes = 0;
  private seq = 0;
  /** The highest sequence number dropped so far, across streams. */
  private droppedThrough = 0;

  /** Told of every answer to a request as it is written (its JSON text in hand: usage records take their size from it). */
  onAnswer: ((message: { id?: unknown; result?: unknown; error?: unknown }, text: string) => void) | null = null;

  constructor(private readonly limits: EventBufferLimits = DEFAULT_EVENT_BUFFER) {}

  /** Events kept now. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Bytes kept now (as counted against maxBytes). */
  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Keeps one event of `streamId` and returns its id. `text` is the message's JSON as written to the
   * client; null marks a priming event (an id and empty data), which is never replayed.
   */
  append(streamId: StreamId, text: string | null): EventId {
    const seq = ++this.seq;
    const size = (text === null ? 0 : text.length) + EVENT_OVERHEAD;
    const stream = this.streams.get(streamId) ?? this.track(streamId, false);
    if (size > this.limits.maxBytes) {
      // Too big to keep at all: resuming this stream from before it would skip it.
      stream.droppedThrough = seq;
      this.droppedThrough = seq;
      this.forgetIfDone(stream);
      return streamId + SEPARATOR + seq;
    }
    const entry: Entry = { seq, stream, text, size };
    stream.entries.push(entry);
    this.queue.push(entry);
    this.bytes += size;
    while (this.queue.length - this.head > this.limits.maxEvents || this.bytes > this.limits.maxBytes) this.dropOldest();
    return streamId + SEPARATOR + seq;
  }

  /**
   * Starts a stream the caller writes and ends itself (a directly answered request): it stays resumable
   * while it runs, even once all its events were dropped. `endStream` lets it go.
   */
  openStream(streamId: StreamId): void {
    this.track(streamId, true);
  }

  endStream(streamId: StreamId): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    stream.pinned = false;
    this.forgetIfDone(stream);
  }

  private track(streamId: StreamId, pinned: boolean): StreamLog {
    // A stream seen before whose events were all dropped looks new here: anything it lost is at or
    // below the session's high-water mark, so resumes from before that stay refused.
    const stream: StreamLog = { id: streamId, entries: [], droppedThrough: this.droppedThrough, pinned };
    this.streams.set(streamId, stream);
    return stream;
  }

  private forgetIfDone(stream: StreamLog): void {
    if (stream.entries.length === 0 && !stream.pinned) this.streams.delete(stream.id);
  }

  private dropOldest(): void {
    const entry = this.queue[this.head++]!;
    // Entries are appended and dropped in one order, so this is its stream's oldest.
    entry.stream.entries.shift();
    entry.stream.droppedThrough = entry.seq;
    this.droppedThrough = entry.seq;
    this.bytes -= entry.size;
    this.forgetIfDone(entry.stream);
    // Compact now and then, so the queue does not grow without bound.
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * What followed `lastEventId` on its stream, or null when that cannot be told exactly: an id this
   * session never gave (another session's, a made-up one), or one from before events that were dropped.
   */
  replayAfter(lastEventId: EventId): Replay | null {
    const streamId = streamOfEventId(lastEventId);
    if (streamId === null) return null;
    const stream = this.streams.get(streamId);
    const digits = lastEventId.slice(streamId.length + 1);
    const seq = /^[1-9][0-9]{0,15}$/.test(digits) ? Number(digits) : NaN;
    if (!stream || !(seq >= stream.droppedThrough && seq <= this.seq)) return null;
    return { streamId, events: this.after(stream, seq) };
  }

  private after(stream: StreamLog, seq: number): { id: EventId; text: string }[] {
    const events: { id: EventId; text: string }[] = [];
    for (const entry of stream.entries) {
      if (entry.seq > seq && entry.text !== null) events.push({ id: stream.id + SEPARATOR + entry.seq, text: entry.text });
    }
    return events;
  }

  /** Frees everything (the session ended). */
  clear(): void {
    this.streams.clear();
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
  }

  // EventStore, for the SDK's transport (initialize and the other requests it answers, and the GET stream).

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    // The SDK stores its priming event as {}: an id, nothing to replay.
    if (Object.keys(message).length === 0) return this.append(streamId, null);
    const text = JSON.stringify(message);
    if (this.onAnswer && ("result" in message || "error" in message)) this.onAnswer(message, text);
    return this.append(streamId, text);
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    // Refusing here makes the SDK answer 400 before it replays anything.
    return this.replayAfter(eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    let replay = this.replayAfter(lastEventId);
    // getStreamIdForEventId has just said yes; only a drop in between can make this fail (the SDK answers 500 without detail).
    if (!replay) throw new Error("the events to replay were dropped meanwhile");
    // Until the SDK registers the resumed stream, what its requests send is only stored: replay until
    // nothing new came in while sending (the SDK skips writing what was replayed).
    while (replay && replay.events.length > 0) {
      for (const event of replay.events) await send(event.id, JSON.parse(event.text) as JSONRPCMessage);
      replay = this.replayAfter(replay.events[replay.events.length - 1]!.id);
    }
    return streamOfEventId(lastEventId)!;
  }
}
