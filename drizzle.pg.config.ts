// drizzle-kit settings for PostgreSQL: `bun run db:generate` writes a new migration into src/db/migrations-pg too.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.pg.ts",
  out: "./src/db/migrations-pg",
});
