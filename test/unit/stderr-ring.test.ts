// The stderr ring of stdio servers: it keeps the last lines, and past its byte budget a second it only
// counts what arrives, then says how much it dropped and shows the last lines of the flood.
import { describe, expect, test } from "bun:test";
import { LineRing } from "../../src/gateway/upstream/stderr-ring.ts";

function clocked(limit: number, bytesPerSecond: number): { ring: LineRing; tick: (ms: number) => void } {
  let now = 0;
  return { ring: new LineRing(limit, { bytesPerSecond, now: () => now }), tick: (ms) => void (now += ms) };
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${String(from + i).padStart(4, "0")}\n`).join("");

describe("LineRing", () => {
  test("keeps the last lines, joining lines cut across chunks", () => {
    const { ring } = clocked(3, 1 << 20);
    ring.write(Buffer.from("one\ntw"));
    ring.write(Buffer.from("o\nthree\nfour\nfi"));
    expect(ring.snapshot()).toEqual(["two", "three", "four", "fi"]);
  });

  test("past the budget, chunks are counted, not kept; the notice and the flood's last lines follow", () => {
    const { ring, tick } = clocked(4, 100);
    ring.write(Buffer.from(lines(0, 5))); // 50 bytes: within the budget
    for (let i = 1; i <= 10; i++) ring.write(Buffer.from(lines(i * 10, i * 10 + 10))); // 100 bytes each: dropped
    // Nothing of the dropped chunks was split into lines before it is looked at.
    const shown = ring.snapshot();
    // The notice stays in view; then the last chunk's whole lines (its first counts as cut: it may have
    // begun in what was dropped).
    expect(shown).toEqual([`[switchboard] ${9 * 100 + 10} bytes of stderr dropped`, "line 0107", "line 0108", "line 0109"]);
    expect(shown.join("\n")).not.toContain("line 0050");
    // A new second: lines are kept again.
    tick(1000);
    ring.write(Buffer.from("calm again\n"));
    expect(ring.snapshot().at(-1)).toBe("calm again");
  });

  test("the gateway's own lines come after the notice of what was dropped before them", () => {
    const { ring } = clocked(10, 10);
    ring.write(Buffer.from("0123456789"));
    ring.write(Buffer.from("abcdefghij\nlast words\n"));
    ring.push("[switchboard] process exited (code 1)");
    expect(ring.snapshot()).toEqual(["0123456789…", "[switchboard] 11 bytes of stderr dropped", "last words", "[switchboard] process exited (code 1)"]);
  });
});
