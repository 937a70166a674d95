// The admin's shared formatting (views/format.ts, one helper per precision where pages had their own
// copies) and the shared stylesheet's single definitions: the outputs the pages printed before.
import { describe, expect, test } from "bun:test";
import { ASSETS } from "../../views/assets.ts";
import { isoDay, isoMinute, isoSecond } from "../../views/format.ts";

describe("timestamps", () => {
  const iso = "2026-01-02T03:04:05.678Z";

  test("a day, a minute and a second, in UTC as the ISO string says, with a space for the T", () => {
    expect(isoDay(iso)).toBe("2026-01-02");
    expect(isoMinute(iso)).toBe("2026-01-02 03:04");
    expect(isoSecond(iso)).toBe("2026-01-02 03:04:05");
  });

  test("absent is a dash", () => {
    for (const f of [isoDay, isoMinute, isoSecond]) expect(f(null)).toBe("—");
  });
});

test("the warning alert is styled once, in the shared part", () => {
  const css = String(ASSETS["app.css"]!.body);
  expect(css.match(/^\.alert\.warning \{/gm)).toHaveLength(1);
  expect(css).toContain(".alert.warning { background: #fff7d6; color: #4d3b00; border: 1px solid #ecd98a; }");
});
