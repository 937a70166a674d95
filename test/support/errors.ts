// Catching what a call throws, so a test can look at an error's code and fields.
import { ConfigError } from "../../src/config/load.ts";

/** The error `fn` throws; fails the test if it returns. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, but the call returned");
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

/** Runs `load` and returns the ConfigError it must throw (any other error is rethrown). */
export function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, but the config loaded");
}

/** The problems of the ConfigError `load` must throw, one line each. */
export function problemsOf(load: () => unknown): string[] {
  return configErrorOf(load).problems;
}
