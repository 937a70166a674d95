// Several clients at once (different keys, different capabilities and roots) on one connection to
// @modelcontextprotocol/server-everything, over Streamable HTTP, legacy HTTP+SSE, stdio with a process
// per session and a shared stdio process: each client sees its own tool list, roots, log messages and
// resource updates, and never another's. On a shared process, what the gateway cannot attribute is
// answered empty (roots) or filtered per session (log levels), never another client's data. The same
// holds through an agent over such a connection.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  CreateTaskResultSchema,
  ErrorCode,
  GetTaskResultSchema,
  ListTasksResultSchema,
  McpError,
  ResultSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type ClientCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import { EVERYTHING_STDIO_FAST, startEverything, type Everything } from "../support/everything.ts";
import { GatewayHarness, httpSpec, makeCaller, stdioSpec, textOf, waitUntil } from "../support/gateway-harness.ts";

let http: Everything;
let sse: Everything;

beforeAll(async () => {
  [http, sse] = await Promise.all([startEverything("streamableHttp", { fastClock: true }), startEverything("sse", { fastClock: true })]);
});
afterAll(async () => {
  await Promise.all([http?.stop(), sse?.stop()]);
});

let h: GatewayHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const TARGETS: { name: string; shared: boolean; agent?: true; spec: () => ConnectionSpec }[] = [
  { name: "streamable http", shared: false, spec: () => httpSpec(http.url) },
  { name: "legacy sse", shared: false, spec: () => httpSpec(sse.url, { transport: "sse" }) },
  { name: "stdio, a process per session", shared: false, spec: () => stdioSpec({ ...EVERYTHING_STDIO_FAST, isolation: "session", maxProcesses: 4 }) },
  { name: "stdio, one shared process", shared: true, spec: () => stdioSpec({ ...EVERYTHING_STDIO_FAST }) },
  { name: "an agent over streamable http", shared: false, agent: true, spec: () => httpSpec(http.url) },
  { name: "an agent over one shared stdio process", shared: true, agent: true, spec: () => stdioSpec({ ...EVERYTHING_STDIO_FAST }) },
];

const AGENT_ID = "agent_00000000-0000-4000-8000-0000000000e1";

/** An agent exposing everything of `spec` under the upstream's names. */
function agentOver(spec: ConnectionSpec): AgentSpec {
  return {
    id: AGENT_ID,
    slug: "everything-agent",
    title: "everything",
    description: "",
    instructions: "",
    enabled: true,
    prefixTools: false,
    connections: [{ connectionId: spec.id, tools: "all", resources: "all", prompts: "all" }],
    fromConfig: false,
  };
}

/** The harness for `target`, with its agent when it is one. */
function harnessFor(target: (typeof TARGETS)[number], spec: ConnectionSpec): GatewayHarness {
  return new GatewayHarness([spec], { agents: target.agent ? [agentOver(spec)] : [] });
}

type Person = { client: Client; logs: string[]; updates: string[]; sampled: number };

/** A client of `spec` as `who`, declaring `capabilities` and, with roots, offering `root`. */
async function person(spec: ConnectionSpec, who: string, capabilities: ClientCapabilities, root?: { uri: string; name: string }): Promise<Person> {
  const me: Person = { client: undefined as unknown as Client, logs: [], updates: [], sampled: 0 };
  let roots = root ? [root] : [];
  const connect = (options: Parameters<GatewayHarness["connect"]>[1]) => (h!.agents.has(AGENT_ID) ? h!.connectAgent(AGENT_ID, options) : h!.connect(spec.id, options));
  me.client = await connect({
    caller: makeCaller({ "*": ["*"] }, `key_${who}`),
    capabilities,
    setup: (c) => {
      if (capabilities.roots) c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
      if (capabilities.sampling) {
        c.setRequestHandler(CreateMessageRequestSchema, async () => {
          me.sampled++;
          return { role: "assistant", model: `${who}-model`, content: { type: "text", text: `answered by ${who}` } };
        });
      }
      c.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void me.logs.push(`${n.params.level}: ${JSON.stringify(n.params.data)}`));
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void me.updates.push(n.params.uri));
    },
  });
  (me as Person & { setRoots: (r: typeof roots) => void }).setRoots = (r) => (roots = r);
  return me;
}

const names = async (p: Person): Promise<string[]> => (await p.client.listTools()).tools.map((t) => t.name);
const CAPABILITY_TOOLS = ["get-roots-list", "trigger-sampling-request", "trigger-elicitation-request"];
const ALICE_ROOT = { uri: "file:///home/alice/project", name: "alice" };
const CAROL_ROOT = { uri: "file:///home/carol/notes", name: "carol" };
const RESOURCE = "demo://resource/dynamic/text/1";

for (const target of TARGETS) {
  describe(`several clients on ${target.name}`, () => {
    test("each is listed the tools its own capabilities allow, and its own roots", async () => {
      const spec = target.spec();
      h = harnessFor(target, spec);
      const [alice, bob, carol] = await Promise.all([
        person(spec, "alice", { roots: { listChanged: true }, sampling: {} }, ALICE_ROOT),
        person(spec, "bob", {}),
        person(spec, "carol", { roots: { listChanged: true }, elicitation: { form: {} } }, CAROL_ROOT),
      ]);
      const [a, b, c] = await Promise.all([names(alice), names(bob), names(carol)]);
      expect(a).toContain("echo");
      if (target.shared) {
        // One upstream session for all: its tools are listed to all (README: exact only per session),
        // but it is offered no roots (a server keeps them per session: one client's would be all's).
        expect(b).toEqual(a);
        expect(a).not.toContain("get-roots-list");
        expect(a).toContain("trigger-sampling-request");
      } else {
        expect(a).toEqual(expect.arrayContaining(["get-roots-list", "trigger-sampling-request"]));
        expect(a).not.toContain("trigger-elicitation-request");
        for (const tool of CAPABILITY_TOOLS) expect(b).not.toContain(tool);
        expect(c).toEqual(expect.arrayContaining(["get-roots-list", "trigger-elicitation-request"]));
        expect(c).not.toContain("trigger-sampling-request");
      }

      const rootsOf = async (p: Person) => textOf(await p.client.callTool({ name: "get-roots-list", arguments: {} }));
      if (!target.shared) {
        const [aliceSees, carolSees] = [await rootsOf(alice), await rootsOf(carol)];
        expect(aliceSees).toContain(ALICE_ROOT.uri);
        expect(aliceSees).not.toContain(CAROL_ROOT.uri);
        expect(carolSees).toContain(CAROL_ROOT.uri);
        expect(carolSees).not.toContain(ALICE_ROOT.uri);
        // A change of roots reaches the client's own upstream session, and only that one.
        (carol as Person & { setRoots: (r: unknown[]) => void }).setRoots([{ uri: "file:///home/carol/moved", name: "carol" }]);
        await carol.client.sendRootsListChanged();
        await waitUntil(async () => (await rootsOf(carol)).includes("file:///home/carol/moved"), "carol's new roots", 5000);
        expect(await rootsOf(alice)).not.toContain("carol");
      }

      // Sampling asked for by a call reaches the caller, or is refused to a caller that cannot sample.
      const sampledByAlice = await alice.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hi", maxTokens: 5 } });
      expect(textOf(sampledByAlice)).toContain("answered by alice");
      if (target.shared) {
        const bobTries = await bob.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hi", maxTokens: 5 } });
        expect(JSON.stringify(bobTries)).not.toContain("answered by");
        expect(bobTries.isError).toBe(true);
      }
      expect(alice.sampled).toBe(1);
      expect(carol.sampled + bob.sampled).toBe(0);
    });

    test("a task belongs to the client that started it: another client can neither list, read nor cancel it", { timeout: 20_000 }, async () => {
      const spec = target.spec();
      h = harnessFor(target, spec);
      const [alice, bob] = await Promise.all([person(spec, "alice", {}), person(spec, "bob", {})]);
      const created = await alice.client.request(
        { method: "tools/call", params: { name: "simulate-research-query", arguments: { topic: "tides" }, task: { ttl: 60_000 } } },
        CreateTaskResultSchema,
      );
      const taskId = created.task.taskId;
      const listed = (p: Person) => p.client.request({ method: "tasks/list", params: {} }, ListTasksResultSchema).then((r) => r.tasks.map((t) => t.taskId));
      expect(await listed(alice)).toContain(taskId);
      expect(await listed(bob)).not.toContain(taskId);
      const refusal = async (method: string) => {
        const err = await bob.client.request({ method, params: { taskId } } as never, ResultSchema).then(() => null, (e: unknown) => e as McpError);
        return err?.code;
      };
      // Exactly what a made-up task id gets.
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) expect(await refusal(method)).toBe(ErrorCode.InvalidParams);
      expect((await alice.client.request({ method: "tasks/get", params: { taskId } }, GetTaskResultSchema)).taskId).toBe(taskId);
    });

    test("log messages and resource updates go to the client whose session they belong to", { timeout: 20_000 }, async () => {
      const spec = target.spec();
      h = harnessFor(target, spec);
      const [alice, bob, carol] = await Promise.all([person(spec, "alice", {}), person(spec, "bob", {}), person(spec, "carol", {})]);
      await alice.client.setLoggingLevel("debug");
      await carol.client.setLoggingLevel("emergency");
      // bob and carol subscribe to the same resource as alice, but only alice switches updates on.
      await Promise.all([alice, bob, carol].map((p) => p.client.subscribeResource({ uri: RESOURCE })));
      await alice.client.callTool({ name: "toggle-simulated-logging", arguments: {} });
      await alice.client.callTool({ name: "toggle-subscriber-updates", arguments: {} });
      await waitUntil(() => alice.updates.length > 0 && alice.logs.some((l) => /-level message/.test(l)), "alice's own updates and simulated logs", 8000);
      await Bun.sleep(300); // a bounded wait for a message that must not come
      const simulated = (p: Person) => p.logs.filter((l) => /-level message/.test(l));
      if (target.shared) {
        // One upstream session: its log messages are shared out at each client's own level, and its
        // updates go to the clients subscribed to that resource, each only of what it subscribed to.
        expect(simulated(carol).every((l) => l.startsWith("emergency:"))).toBe(true);
        expect(bob.updates.every((u) => u === RESOURCE)).toBe(true);
      } else {
        expect(simulated(bob)).toEqual([]);
        expect(simulated(carol)).toEqual([]);
        expect(bob.updates).toEqual([]);
        expect(carol.updates).toEqual([]);
      }
      expect(alice.updates.every((u) => u === RESOURCE)).toBe(true);
    });
  });
}
