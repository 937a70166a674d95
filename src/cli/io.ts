// What a CLI command may touch, passed in so tests run commands without a real terminal.
export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
};

/** A command of the `switchboard` CLI. `run` returns the exit code: 0 ok, 1 failed, 2 bad usage or config. */
export type Command = {
  name: string;
  summary: string;
  help: string;
  run: (args: string[], io: CliIo) => Promise<number>;
};

/** Thrown for bad command-line usage; printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: () => Bun.stdin.text(),
    env: process.env,
    cwd: process.cwd(),
  };
}
