// Named echo templates for the API tests (built with the echo archive builder; see docs/echo-provisioner.md).
import type { Resource } from "../../../src/gen/provisioner/provisioner_pb.js";
import { buildEchoArchive, echoLog, planComplete } from "../../../src/provisioners/echo/archive.js";

/** The agent token of `agentTemplate`'s agent (echo replays it, so the test knows it). */
export const AGENT_TOKEN = "6f1f2c1e-2b1a-4d8e-9d52-3f4c2a1b0c9d";

function devResource(): Resource[] {
  return [
    {
      name: "dev",
      type: "echo_instance",
      agents: [
        {
          id: "",
          name: "main",
          auth: { case: "token", value: AGENT_TOKEN },
          apps: [{ slug: "web", displayName: "Web", url: "http://localhost:8080" }],
        },
      ],
    } as unknown as Resource,
  ];
}

/**
 * A template with two parameters (`cpus`: number 1–8, default 2, mutable; `name`: string matching ^[a-z]+$,
 * default "dev"), one resource with agent `main` (token AGENT_TOKEN) and a log line per build, no prebuilds.
 */
export function agentTemplate(): Uint8Array {
  const resources = devResource();
  return buildEchoArchive({
    plan: [
      echoLog("planning dev"),
      {
        type: {
          case: "plan",
          value: {
            resources,
            parameters: [
              {
                name: "cpus",
                type: "number",
                defaultValue: "2",
                mutable: true,
                validationMin: 1,
                validationMax: 8,
              },
              { name: "name", type: "string", defaultValue: "dev", validationRegex: "^[a-z]+$" },
            ],
          },
        },
      },
    ],
    apply: [
      echoLog("creating dev"),
      echoLog("dev is ready"),
      { type: { case: "apply", value: { resources, state: new TextEncoder().encode("state-1") } } },
    ],
  });
}

/** A template whose apply never completes: a build waits until it is cancelled (imports succeed). */
export function hangingTemplate(): Uint8Array {
  return buildEchoArchive({
    plan: planComplete(),
    apply: [echoLog("applying forever")],
  });
}
