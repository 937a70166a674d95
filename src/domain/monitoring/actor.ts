// Who a usage or audit record names, from the caller: its user and the credential it came with (an
// API key, an OAuth grant), or its admin session.
import type { Caller } from "../access/caller.ts";
import type { Actor } from "./types.ts";

export function callerActor(caller: Caller): Actor {
  return { userId: caller.user.id, credentialKind: caller.key?.kind ?? "session", credentialId: caller.key?.id ?? null };
}
