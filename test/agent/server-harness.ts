// Real `prewarm agent` processes against a real in-process server (store, API, echo daemon, reconciler): the
// fixtures of the test/agent/server-*.test.ts files. An echo template declares one agent `main` WITHOUT a
// token, so the server gives every build's agent its own (and a claim build keeps it); tests read it through
// GET /workspaces/:id/agents/:agentId/token, as an operator starting an agent by hand would.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AgentT, WorkspaceT } from "../../src/contract/api.js";
import type { ResourceSchema } from "../../src/gen/provisioner/provisioner_pb.js";
import { buildEchoArchive, type EchoStepInit } from "../../src/provisioners/echo/archive.js";
import {
  type Client,
  client,
  createMember,
  eventually,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "../server/api/support.js";
import { startCli, stopChild } from "../support/cli.js";

export interface AgentTemplateSpec {
  /** Prebuilt instances of preset "dev". */
  instances: number;
  scripts: Array<{
    displayName: string;
    script: string;
    runOnStart?: boolean;
    runOnStop?: boolean;
    startBlocksLogin?: boolean;
    timeoutSeconds?: number;
  }>;
  metadata?: Array<{ key: string; displayName: string; script: string; interval: number; timeout?: number }>;
  connectionTimeoutSeconds?: number;
  /** Its start builds fail with this error (the import's plan still succeeds). */
  applyError?: string;
}

/** An echo template: resource `dev` with agent `main` (no token: one is generated per build). */
export function agentTemplateArchive(spec: AgentTemplateSpec): Uint8Array {
  const resources: MessageInitShape<typeof ResourceSchema>[] = [
    {
      name: "dev",
      type: "echo_instance",
      agents: [
        {
          name: "main",
          auth: { case: "token", value: "" },
          connectionTimeoutSeconds: spec.connectionTimeoutSeconds ?? 0,
          scripts: spec.scripts.map((s) => ({
            displayName: s.displayName,
            script: s.script,
            runOnStart: s.runOnStart ?? false,
            runOnStop: s.runOnStop ?? false,
            startBlocksLogin: s.startBlocksLogin ?? false,
            timeoutSeconds: s.timeoutSeconds ?? 0,
          })),
          metadata: (spec.metadata ?? []).map((m) => ({
            key: m.key,
            displayName: m.displayName,
            script: m.script,
            interval: BigInt(m.interval),
            timeout: BigInt(m.timeout ?? 0),
          })),
        },
      ],
    },
  ];
  const presets = [{ name: "dev", parameters: [], prebuild: { instances: spec.instances } }];
  const plan: EchoStepInit[] = [{ type: { case: "plan", value: { resources, presets } } }];
  const apply: EchoStepInit[] = [
    { type: { case: "apply", value: spec.applyError ? { error: spec.applyError } : { resources } } },
  ];
  return buildEchoArchive({ plan, apply });
}

export interface World {
  server: TestServer;
  admin: Client;
  root: string;
  agents: ChildProcess[];
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const server = await startTestServer({ reconcileIntervalMs: 500 });
  const root = mkdtempSync(join(tmpdir(), "prewarm-agent-server-"));
  const agents: ChildProcess[] = [];
  return {
    server,
    admin: client(server.url, server.adminToken),
    root,
    agents,
    close: async () => {
      await Promise.all(agents.map((a) => stopChild(a, "SIGKILL")));
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** One world for the enclosing `describe`: started before its tests, closed after them. */
export function suiteWorld(): { readonly current: World } {
  const holder: { current?: World } = {};
  before(async () => {
    holder.current = await startWorld();
  });
  after(() => holder.current?.close());
  return {
    get current(): World {
      if (!holder.current) throw new Error("the world starts in before()");
      return holder.current;
    },
  };
}

/** Pushes and activates `name` (the reconciler then builds its prebuilds). */
export async function pushAgentTemplate(world: World, name: string, spec: AgentTemplateSpec): Promise<void> {
  const { job } = await pushTemplate(world.admin, name, agentTemplateArchive(spec), { activate: true });
  if (job.status !== "succeeded") throw new Error(`import of ${name} ${job.status}: ${job.error}`);
}

/** Unclaimed prebuilds of `template` whose start build succeeded, oldest first. */
export async function runningPrebuilds(world: World, template: string, count: number): Promise<WorkspaceT[]> {
  return eventually(
    `${count} running prebuilds of ${template}`,
    async () => {
      const { body } = await world.admin.get<WorkspaceT[]>(
        `/api/v1/workspaces?owner=prebuilds&all=true&prebuilds=true&template=${template}`,
      );
      const running = body.filter(
        (w) => w.latestBuild.transition === "start" && w.latestBuild.status === "succeeded",
      );
      return running.length >= count
        ? running.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
        : undefined;
    },
    30_000,
  );
}

export async function agentOf(world: World, workspaceId: string): Promise<AgentT> {
  const { body } = await world.admin.get<AgentT[]>(`/api/v1/workspaces/${workspaceId}/agents`);
  const agent = body[0];
  if (!agent) throw new Error(`workspace ${workspaceId} has no agent`);
  return agent;
}

export async function tokenOf(world: World, workspaceId: string): Promise<string> {
  const agent = await agentOf(world, workspaceId);
  const { status, body } = await world.admin.get<{ token: string }>(
    `/api/v1/workspaces/${workspaceId}/agents/${agent.id}/token`,
  );
  if (status !== 200) throw new Error(`agent token: ${status} ${JSON.stringify(body)}`);
  return body.token;
}

/** Waits until the workspace's agent matches `want` (lifecycle and/or status). */
export function agentBecomes(
  world: World,
  workspaceId: string,
  want: Partial<Pick<AgentT, "lifecycleState" | "status">>,
  timeoutMs = 30_000,
): Promise<AgentT> {
  return eventually(
    `agent of ${workspaceId} to be ${JSON.stringify(want)}`,
    async () => {
      const agent = await agentOf(world, workspaceId);
      const ok =
        (want.lifecycleState === undefined || agent.lifecycleState === want.lifecycleState) &&
        (want.status === undefined || agent.status === want.status);
      return ok ? agent : undefined;
    },
    timeoutMs,
  );
}

/** A new member `username` creates workspace `name` with preset "dev" of `template` (a claim or a miss). */
export async function createAsMember(
  world: World,
  username: string,
  name: string,
  template: string,
): Promise<WorkspaceT> {
  const member = await createMember(world.admin, world.server.url, username);
  const created = await member.api.post<WorkspaceT>("/api/v1/workspaces", { name, template, preset: "dev" });
  if (created.status !== 201)
    throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

export async function eligibleOf(world: World, template: string): Promise<number> {
  const { body } = await world.admin.get<Array<{ name: string; prebuilds: { eligible: number } }>>(
    `/api/v1/templates/${template}/presets`,
  );
  return body.find((p) => p.name === "dev")?.prebuilds.eligible ?? -1;
}

/**
 * Starts `prewarm agent` with `token` and a private output directory (`$OUT` in the scripts' environment:
 * scripts inherit the agent's environment). Resolves once it fetched its manifest.
 */
export async function startAgent(
  world: World,
  token: string,
  label: string,
  extraArgs: string[] = [],
): Promise<{ child: ChildProcess; out: string; output: () => string }> {
  const out = join(world.root, label);
  mkdirSync(out, { recursive: true });
  const { child, output } = await startCli(
    [
      "agent",
      "--url",
      world.server.url,
      "--log-dir",
      join(out, "logs"),
      "--max-backoff",
      "500ms",
      ...extraArgs,
    ],
    /connected to/,
    {
      env: { PREWARM_AGENT_TOKEN: token, CODER_AGENT_TOKEN: "", CODER_AGENT_URL: "", OUT: out, HOME: out },
      timeoutMs: 30_000,
    },
  );
  world.agents.push(child);
  return { child, out, output };
}

export function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}
