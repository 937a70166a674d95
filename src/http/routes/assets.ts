// GET /admin/assets/<name>: the embedded htmx and stylesheet, cacheable for good (URLs carry the hash).
import { Hono } from "hono";
import { ASSETS } from "../../../views/assets.ts";
import type { AppEnv } from "../context.ts";

export function assetRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/:name", (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) return c.notFound();
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("Content-Type", asset.type);
    c.header("ETag", asset.etag);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    return c.body(asset.body);
  });
  return app;
}
