// Parsing of the human units the config file accepts: durations ("30s", "12h") and sizes ("4MiB").

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
};

/**
 * The longest delay a timer takes (2^31-1 ms, about 24.8 days): a longer one fires at once, so every
 * duration that feeds a timer is capped at or below it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A whole number of units, or null when it is not a safe integer (so never Infinity, NaN or negative). */
function amount(number: string, unit: number): number | null {
  const value = Math.round(Number(number) * unit);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** Parses a duration such as "500ms", "30s", "15m", "12h", "30d" into milliseconds; null if malformed or absurdly large. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return null;
  return amount(match[1]!, DURATION_UNITS[match[2]!]!);
}

/** Parses a size such as "512B", "64KiB", "4MiB", "1GB" into bytes; null if malformed or absurdly large. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(text.trim());
  if (!match) return null;
  return amount(match[1]!, SIZE_UNITS[match[2]!]!);
}
