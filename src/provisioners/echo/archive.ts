// Builds echo template archives from typed responses (like Coder's `echo.Tar`): the files the echo
// provisioner replays, tarred with the SDK's createTar. `echoTemplateFiles` is the pure part.
import { randomUUID } from "node:crypto";
import { create, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import {
  LogLevel,
  type Resource,
  type Response,
  ResponseSchema,
} from "../../gen/provisioner/provisioner_pb.js";
import { createTar } from "../../provisionersdk/archive.js";

/** A Response (message or init object) to replay. */
export type EchoResponseInit = MessageInitShape<typeof ResponseSchema>;
/** Wait `delayMs` before replaying `response` (or nothing); written in the `.json` form. */
export interface EchoDelay {
  readonly delayMs: number;
  readonly response?: EchoResponseInit;
}
export type EchoStepInit = EchoResponseInit | EchoDelay;
/** `claim`: the start build that claims a prebuild (stage CLAIM; falls back to `start`, see naming.ts). */
export type EchoTransition = "start" | "stop" | "destroy" | "claim";

/**
 * What a template replays. An omitted list takes its default; an empty list writes no files (so the
 * request completes with "no state"). Per-transition lists win over the generic ones index by index (a
 * transition list shorter than the generic list falls back to the generic file at the missing indexes,
 * as in Coder's echo).
 */
export interface EchoResponses {
  /** Default: one empty ParseComplete. */
  parse?: EchoStepInit[];
  /** Default: derived from `apply` (logs and delays copied, each ApplyComplete turned into a PlanComplete). */
  plan?: EchoStepInit[];
  /** Default: one empty ApplyComplete. */
  apply?: EchoStepInit[];
  /** When omitted, derived per transition from `applyByTransition`. */
  planByTransition?: Partial<Record<EchoTransition, EchoStepInit[]>>;
  applyByTransition?: Partial<Record<EchoTransition, EchoStepInit[]>>;
  /** Extra archive entries: path → contents. */
  extraFiles?: Record<string, Uint8Array | string>;
  /** Written as README.md (returned by Parse in `ParseComplete.readme`). */
  readme?: string;
}

export interface EchoTemplateFile {
  path: string;
  data: Uint8Array;
  mode: number;
}

const fileMode = 0o644;
const emptyPlan = new TextEncoder().encode("{}");

/** The archive's files, in the order Coder writes them. */
export function echoTemplateFiles(responses: EchoResponses = {}): EchoTemplateFile[] {
  const parse = responses.parse ?? parseComplete();
  const apply = responses.apply ?? applyComplete();
  const plan = responses.plan ?? derivePlan(apply);
  const applyByTransition = responses.applyByTransition ?? {};
  const planByTransition =
    responses.planByTransition ??
    Object.fromEntries(Object.entries(applyByTransition).map(([t, steps]) => [t, derivePlan(steps ?? [])]));
  const files: EchoTemplateFile[] = [
    ...stepFiles("parse", parse),
    ...stepFiles("apply", apply),
    ...stepFiles("plan", plan),
  ];
  for (const [transition, steps] of Object.entries(applyByTransition)) {
    files.push(...stepFiles(`${transition}.apply`, steps ?? []));
  }
  for (const [transition, steps] of Object.entries(planByTransition)) {
    files.push(...stepFiles(`${transition}.plan`, steps ?? []));
  }
  for (const [path, data] of Object.entries(responses.extraFiles ?? {})) {
    files.push({
      path,
      data: typeof data === "string" ? new TextEncoder().encode(data) : data,
      mode: fileMode,
    });
  }
  if (responses.readme !== undefined) {
    files.push({ path: "README.md", data: new TextEncoder().encode(responses.readme), mode: fileMode });
  }
  return files;
}

/** A tar archive of the echo template (`Config.template_source_archive`). */
export function buildEchoArchive(responses: EchoResponses = {}): Uint8Array {
  return createTar(echoTemplateFiles(responses));
}

function stepFiles(suffix: string, steps: readonly EchoStepInit[]): EchoTemplateFile[] {
  return steps.map((step, index) => {
    if (!isDelay(step)) {
      const response = withDefaultPlan(create(ResponseSchema, step));
      return {
        path: `${index}.${suffix}.protobuf`,
        data: toBinary(ResponseSchema, response),
        mode: fileMode,
      };
    }
    const response = withDefaultPlan(create(ResponseSchema, step.response ?? {}));
    const json = { delayMs: step.delayMs, ...(toJson(ResponseSchema, response) as object) };
    return {
      path: `${index}.${suffix}.json`,
      data: new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`),
      mode: fileMode,
    };
  });
}

function isDelay(step: EchoStepInit): step is EchoDelay {
  return "delayMs" in step && typeof step.delayMs === "number";
}

/** A successful PlanComplete without plan bytes gets `{}`, as Coder's builder does. */
function withDefaultPlan(response: Response): Response {
  const { type } = response;
  if (type.case === "plan" && type.value.error === "" && type.value.plan.length === 0) {
    type.value.plan = emptyPlan;
  }
  return response;
}

/** Plan steps mirroring apply steps: logs and delays kept, ApplyCompletes become PlanCompletes. */
export function derivePlan(apply: readonly EchoStepInit[]): EchoStepInit[] {
  const toPlan = (init: EchoResponseInit | undefined): EchoResponseInit | undefined => {
    if (init === undefined) return undefined;
    const response = create(ResponseSchema, init);
    const { type } = response;
    if (type.case === "log") return response;
    if (type.case !== "apply") return undefined;
    const { error, resources, parameters, externalAuthProviders } = type.value;
    return {
      type: {
        case: "plan",
        value: { error, resources, parameters, externalAuthProviders, plan: error ? undefined : emptyPlan },
      },
    };
  };
  return apply.flatMap((step): EchoStepInit[] => {
    if (isDelay(step)) {
      const response = toPlan(step.response);
      return [response ? { delayMs: step.delayMs, response } : { delayMs: step.delayMs }];
    }
    const response = toPlan(step);
    return response ? [response] : [];
  });
}

// Canned responses (functions, so callers can never mutate a shared value).

export const parseComplete = (): EchoStepInit[] => [{ type: { case: "parse", value: {} } }];
export const planComplete = (): EchoStepInit[] => [{ type: { case: "plan", value: { plan: emptyPlan } } }];
export const applyComplete = (): EchoStepInit[] => [{ type: { case: "apply", value: {} } }];
export const planFailed = (): EchoStepInit[] => [{ type: { case: "plan", value: { error: "failed!" } } }];
export const applyFailed = (): EchoStepInit[] => [{ type: { case: "apply", value: { error: "failed!" } } }];

export function echoLog(output: string, level: LogLevel = LogLevel.INFO): EchoResponseInit {
  return { type: { case: "log", value: { level, output } } };
}

export function echoDelay(delayMs: number, response?: EchoResponseInit): EchoDelay {
  return response === undefined ? { delayMs } : { delayMs, response };
}

/** Apply steps creating resource `example` (aws_instance) with agent `example` using token auth. */
export function applyWithAgent(token: string = randomUUID()): EchoStepInit[] {
  return [
    {
      type: {
        case: "apply",
        value: {
          resources: [
            {
              name: "example",
              type: "aws_instance",
              agents: [{ id: randomUUID(), name: "example", auth: { case: "token", value: token } }],
            },
          ],
        },
      },
    },
  ];
}

/** Plan and apply both reporting `resources` (parse default). */
export function withResources(resources: Resource[]): EchoResponses {
  return {
    plan: [{ type: { case: "plan", value: { resources, plan: emptyPlan } } }],
    apply: [{ type: { case: "apply", value: { resources } } }],
  };
}
