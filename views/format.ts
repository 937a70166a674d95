// Timestamps as the admin's tables and pages print them (UTC, from the ISO strings the operations give),
// one helper per precision, so every page cuts them the same way.

function cut(iso: string | null, length: number): string {
  return iso === null ? "—" : iso.slice(0, length).replace("T", " ");
}

/** "2026-01-02"; "—" when absent. */
export function isoDay(iso: string | null): string {
  return cut(iso, 10);
}

/** "2026-01-02 03:04"; "—" when absent. */
export function isoMinute(iso: string | null): string {
  return cut(iso, 16);
}

/** "2026-01-02 03:04:05"; "—" when absent. */
export function isoSecond(iso: string | null): string {
  return cut(iso, 19);
}
