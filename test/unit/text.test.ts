// The one rule for human text: single-line fields refuse C0 and C1 controls, DEL and bidi overrides,
// isolates and marks; multi-line fields allow tab, line feed and CRLF but nothing else of the kind.
// Ordinary text, accents, emoji and right-to-left scripts themselves pass.
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { multiLine, multiLineProblem, singleLine, singleLineProblem } from "../../src/domain/text.ts";
import { EmailSchema } from "../../src/domain/access/users.ts";

const FINE = ["CI deploy bot", "Équipe données", "🚀 launch", "שלום", "مرحبا", "a-b_c.d (e)", ""];
const REFUSED_EVERYWHERE = ["\u0000", "\u0007", "\u001b[31m", "\u000b", "\u000c", "\u007f", "\u0080", "\u0085", "\u009f", "\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "lone\rreturn"];
const LINES = ["a\nb", "a\r\nb", "a\tb"];

describe("single-line text", () => {
  test.each(FINE)("accepts %p", (text) => expect(singleLineProblem(text)).toBeNull());
  test.each([...REFUSED_EVERYWHERE, ...LINES])("refuses %j", (text) => expect(singleLineProblem(`x${text}y`)).toContain("cannot contain control characters"));
  test("as a schema, keeps the schema's own checks and adds the rule", () => {
    const schema = singleLine(z.string().max(5));
    expect(schema.safeParse("ok").success).toBe(true);
    expect(schema.safeParse("toolong").success).toBe(false);
    expect(schema.safeParse("a\u202eb").error?.issues[0]?.message).toBe("cannot contain control characters (line breaks, tabs, NUL) or bidirectional overrides");
  });
});

describe("multi-line text", () => {
  test.each([...FINE, ...LINES])("accepts %j", (text) => expect(multiLineProblem(text)).toBeNull());
  test.each(REFUSED_EVERYWHERE)("refuses %j", (text) => expect(multiLineProblem(`x${text}y`)).toContain("other than line breaks and tabs"));
  test("as a schema", () => {
    expect(multiLine(z.string()).safeParse("one\ntwo").success).toBe(true);
    expect(multiLine(z.string()).safeParse("one\u0000two").success).toBe(false);
  });
});

describe("user emails", () => {
  test("already refuse control and bidi characters (the email rule is ASCII)", () => {
    for (const email of ["a\u202e@b.co", "a@b\u0000.co", "a\n@b.co"]) expect(EmailSchema.safeParse(email).success).toBe(false);
    expect(EmailSchema.safeParse("a@b.co").success).toBe(true);
  });
});
