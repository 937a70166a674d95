// The one rule for human text Switchboard accepts (names, titles, descriptions, instructions), shared
// by the config schema, the operations and the admin forms. Control characters can forge log lines,
// hide text or break terminals and exports; NUL truncates in C libraries; bidi overrides and isolates
// (the "Trojan Source" characters) make a name read differently than it is, so one key or connection
// could pose as another. Pure: zod schemas and a predicate.
import { z } from "zod";

/** Bidi overrides and isolates, and the invisible direction marks (LRM, RLM, ALM). */
const BIDI = "\\u200e\\u200f\\u061c\\u202a-\\u202e\\u2066-\\u2069";
/** C0 controls, DEL, C1 controls and bidi: never in a single-line field. */
const SINGLE_LINE_UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${BIDI}]`);
/** The same, except tab, line feed and a carriage return before a line feed (browsers send CRLF). */
const MULTI_LINE_UNSAFE = new RegExp(`[\\u0000-\\u0008\\u000b-\\u000c\\u000e-\\u001f\\u007f-\\u009f${BIDI}]|\\r(?!\\n)`);

const SINGLE_LINE_MESSAGE = "cannot contain control characters (line breaks, tabs, NUL) or bidirectional overrides";
const MULTI_LINE_MESSAGE = "cannot contain control characters other than line breaks and tabs, or bidirectional overrides";

/** Why `text` is refused in a single-line field, or null when it is fine. */
export function singleLineProblem(text: string): string | null {
  return SINGLE_LINE_UNSAFE.test(text) ? SINGLE_LINE_MESSAGE : null;
}

/** Why `text` is refused in a multi-line field, or null when it is fine. */
export function multiLineProblem(text: string): string | null {
  return MULTI_LINE_UNSAFE.test(text) ? MULTI_LINE_MESSAGE : null;
}

/** A single-line human field (a name or title): no control characters, no bidi overrides. */
export function singleLine<T extends z.ZodString>(schema: T): T {
  return schema.refine((text) => !SINGLE_LINE_UNSAFE.test(text), { error: SINGLE_LINE_MESSAGE });
}

/** A multi-line human field (a description, instructions): line breaks and tabs, nothing else of the kind. */
export function multiLine<T extends z.ZodString>(schema: T): T {
  return schema.refine((text) => !MULTI_LINE_UNSAFE.test(text), { error: MULTI_LINE_MESSAGE });
}
