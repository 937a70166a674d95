// Which authorization scenarios the installed conformance suite has, by side: `conformance list`
// prints "Server scenarios" and "Client scenarios" sections. Switchboard's authorization server is a
// server's; the suite's client-side auth scenarios test OAuth clients, which Switchboard is not here.
import { CONFORMANCE_CLI } from "./run-suite.ts";

export type AuthScenarios = { server: string[]; client: string[] };

/** Parses the `list` output into the auth scenarios of each side. */
export function parseAuthScenarios(listing: string): AuthScenarios {
  const out: AuthScenarios = { server: [], client: [] };
  let side: keyof AuthScenarios | null = null;
  for (const line of listing.split("\n")) {
    if (/^Server scenarios/i.test(line)) side = "server";
    else if (/^Client scenarios/i.test(line)) side = "client";
    const name = /^\s+-\s+(\S+)/.exec(line)?.[1];
    if (side && name && /^auth\b|^auth\//.test(name)) out[side].push(name);
  }
  return out;
}

/** The installed suite's auth scenarios. */
export async function listAuthScenarios(): Promise<AuthScenarios> {
  const child = Bun.spawn([process.execPath, CONFORMANCE_CLI, "list"], { stdout: "pipe", stderr: "pipe" });
  const [stdout] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return parseAuthScenarios(stdout);
}
