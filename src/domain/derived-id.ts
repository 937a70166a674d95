// Ids derived from a name, for things declared in switchboard.toml: the same slug gives the same id
// on every start and every server reading the same file, so keys granted on it keep working.

/** A UUID (version 8, RFC 9562 variant) from the SHA-256 of `name`. */
export function nameBasedUuid(name: string): string {
  const bytes = new Bun.CryptoHasher("sha256").update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: custom, name-based
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
