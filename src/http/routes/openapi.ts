// The OpenAPI 3.1 document of /api/v1, generated from the same operation definitions and schemas.
import { jsonSchemaOf, type Operation } from "../../operations/registry.ts";
import { VERSION } from "../../version.ts";

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", description: "Stable SCREAMING_SNAKE error code" },
        message: { type: "string" },
        fields: { type: "object", additionalProperties: { type: "string" }, description: "Problems by field, for invalid input" },
      },
    },
  },
};

function errorResponse(description: string) {
  return { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
}

/** Builds the document; `serverUrl` is the gateway's public URL. */
export function buildOpenApi(operations: readonly Operation[], serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.rest.path.replace(/:(\w+)/g, "{$1}");
    const pathParams = [...op.rest.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const input = jsonSchemaOf(op.input, "input") as { properties?: Record<string, unknown>; required?: string[] };
    const props = { ...(input.properties ?? {}) };
    const required = (input.required ?? []).filter((name) => !pathParams.includes(name));
    for (const name of pathParams) delete props[name];
    const parameters: unknown[] = pathParams.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
    const entry: Record<string, unknown> = {
      operationId: op.name,
      summary: op.title,
      description: `${op.description}\n\nRequires the permission {"self": ["${op.name}"]}${op.forMembers ? "" : "; admins only"}.`,
      parameters,
      responses: {
        [String(op.rest.successStatus ?? 200)]: { description: "Success", content: { "application/json": { schema: jsonSchemaOf(op.output, "output") } } },
        "400": errorResponse("Invalid input (VALIDATION_FAILED, INVALID_PERMISSIONS, BAD_REQUEST)"),
        "401": errorResponse("Missing or invalid bearer token"),
        "403": errorResponse("The key lacks this permission"),
        "404": errorResponse("Not found"),
      },
    };
    if (op.rest.method === "GET" || op.rest.method === "DELETE") {
      for (const [name, schema] of Object.entries(props)) parameters.push({ name, in: "query", required: required.includes(name), schema });
    } else {
      entry.requestBody = {
        required: required.length > 0,
        content: { "application/json": { schema: { type: "object", properties: props, required, additionalProperties: false } } },
      };
    }
    paths[path] = { ...paths[path], [op.rest.method.toLowerCase()]: entry };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Switchboard management API", version: VERSION, description: "The REST mirror of the management tools served over MCP at /mcp/self." },
    servers: [{ url: `${serverUrl}/api/v1` }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API key: Authorization: Bearer mcp_key_…" } },
      schemas: { Error: ERROR_SCHEMA },
    },
    paths,
  };
}
