// Structured logging: one JSON object per line on stderr. Callers pass fields, never secrets or tokens.

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export type Logger = {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
};

/** A logger writing lines at `level` and above through `write` (stderr by default). */
export function createLogger(options: { level: LogLevel; write?: (line: string) => void }): Logger {
  const min = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const at = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, errorReplacer));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * Gathers the lines logged during one turn of the event loop into one write: under load, a write per
 * request line would cost a system call per request. `flush()` writes what is waiting at once.
 */
export function batchedLines(write: (text: string) => void): { write: (line: string) => void; flush: () => void } {
  let lines: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = `${lines.join("\n")}\n`;
    lines = [];
    write(text);
  };
  return {
    write(line) {
      lines.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  // The cause too: drizzle's "Failed query" error keeps the driver's reason there.
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack, ...(value.cause !== undefined && { cause: value.cause }) };
  return value;
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
