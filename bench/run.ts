// `bun run bench`: runs every bench/*.bench.ts in turn; each prints its own figures.
import { Glob } from "bun";

const dir = import.meta.dir;
const only = process.argv[2];
const files = [...new Glob("*.bench.ts").scanSync(dir)].sort().filter((f) => !only || f.includes(only));
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const proc = Bun.spawn([process.execPath, `${dir}/${file}`], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
