// The version of this build, read from package.json at build time (embedded in the binary).
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
