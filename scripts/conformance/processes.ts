// Child processes for the conformance run: start one, wait for the line that says it listens
// (no sleeping and hoping), keep its output for the report, and stop it by its own pid.
import type { Subprocess } from "bun";

export type Started = { match: RegExpMatchArray; output: () => string; stop: () => Promise<void> };

/** Reads a stream line by line, calling `onLine` for each, until it ends. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  }
  if (pending) onLine(pending);
}

async function stopProcess(child: Subprocess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!exited) child.kill("SIGKILL");
  await child.exited;
}

/**
 * Spawns `cmd` and resolves once a line of its stdout or stderr matches `ready`; rejects if it exits
 * first or takes longer than `timeoutMs`, with its output in the message.
 */
export async function startProcess(cmd: string[], options: { ready: RegExp; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Started> {
  const child = Bun.spawn(cmd, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  const output = () => lines.join("\n");
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const onLine = (line: string) => {
      lines.push(line);
      const found = line.match(options.ready);
      if (found) resolve(found);
    };
    void readLines(child.stdout, onLine);
    void readLines(child.stderr, onLine);
    void child.exited.then((code) => reject(new Error(`${cmd.join(" ")} exited (${code}) before it was ready:\n${output()}`)));
    const timeoutMs = options.timeoutMs ?? 15_000;
    setTimeout(() => reject(new Error(`${cmd.join(" ")} was not ready after ${timeoutMs} ms:\n${output()}`)), timeoutMs).unref();
  }).catch(async (err: unknown) => {
    await stopProcess(child);
    throw err;
  });
  return { match, output, stop: () => stopProcess(child) };
}

/** A port that was free a moment ago, for servers that must be told their port (PORT=…). */
export function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  void probe.stop(true);
  return port;
}
