// `bun run build`: compiles Switchboard into one executable, dist/switchboard, with migrations,
// views and assets embedded (they are imported as text, so the bundler carries them in).
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const result = await Bun.build({
  entrypoints: ["./src/main.ts"],
  compile: { outfile: "./dist/switchboard" },
  minify: true,
  sourcemap: "linked",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log("built dist/switchboard");
