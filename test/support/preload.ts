// Loaded before every test file (bunfig.toml [test] preload): the per-test timeout. Bun 1.4 reads no
// timeout from bunfig.toml, and its default (5 s) is too short for a test that builds a fresh
// PostgreSQL database per step, or for a shared, loaded CI machine. Slowness is measured by the
// benches, never asserted by a test's timeout.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(30_000);
