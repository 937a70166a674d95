// `bun run db:generate --name X`: one migration per dialect from the two schemas (SQLite, then PostgreSQL).
// Add the new files' imports to src/db/migrations.ts and src/db/migrations-pg.ts (a test checks both).
const args = process.argv.slice(2);
for (const config of ["drizzle.config.ts", "drizzle.pg.config.ts"]) {
  const child = Bun.spawnSync(["bunx", "drizzle-kit", "generate", "--config", config, ...args], { stdout: "inherit", stderr: "inherit" });
  if (child.exitCode !== 0) process.exit(child.exitCode ?? 1);
}
