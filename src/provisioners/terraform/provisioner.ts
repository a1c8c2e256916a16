// The terraform provisioner's handlers: Parse (static), Plan and Apply (the terraform CLI in the session
// directory). Domain failures — a bad template, a failing command, cancellation — come back in the
// Complete's `error`; Apply also returns whatever state exists, so nothing is lost.
//
// Plan:  version → [DESTROY without state: nothing to do] → write state → init (plugin cache locked)
//        → plan -out → show -json + graph → convert.
// Apply: version → [DESTROY without state: nothing to do] → apply <plan file> → show -json + graph
//        → convert → state bytes.
import { access, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Clock, systemClock } from "../../clock.js";
import {
  type ApplyComplete,
  ApplyCompleteSchema,
  type ApplyRequest,
  LogLevel,
  type ParseComplete,
  ParseCompleteSchema,
  type PlanComplete,
  PlanCompleteSchema,
  type PlanRequest,
  type Timing,
  WorkspaceTransition,
} from "../../gen/provisioner/provisioner_pb.js";
import type { Provisioner, Session } from "../../provisionersdk/types.js";
import { convertTerraform, resourceReplacements, type TerraformShowJson } from "./convert.js";
import { baseEnv, coderEnv, describeTfSettings, type Env, validateOperatorEnv } from "./env.js";
import { logForPlainOutput, logsForJsonOutput, parseJsonLine } from "./logs.js";
import { readModules } from "./modules.js";
import { parseTemplate } from "./parse.js";
import { withPluginCacheLock } from "./plugin-cache.js";
import { runCommand, TerraformCommandError } from "./runner.js";
import { syntheticTiming, TimingAggregator, type TimingStage } from "./timings.js";
import { checkVersion, parseVersionOutput, supportsPlanGraph } from "./version.js";

export interface TerraformProvisionerOptions {
  /** The terraform binary: a path, or a name looked up on PATH. Default "terraform". */
  binary?: string;
  /** How long terraform may take to exit after SIGINT before it is killed. Default 3 minutes. */
  exitTimeoutMs?: number;
  /** Provider plugin cache shared by this provisioner's sessions (and safely by other processes). */
  pluginCacheDir?: string;
  /** Operator-configured TF_* settings; any other name is rejected. */
  extraEnv?: Record<string, string>;
  /** `CODER_AGENT_SCRIPT_<os>_<arch>` bootstrap scripts for `coder_agent.init_script`. */
  agentScriptEnv?: Record<string, string>;
  /** For timings of init and graph. Default: the system clock. */
  clock?: Clock;
  /** Where PATH, HOME and TF_* are read from. Default: process.env (nothing else of it is passed on). */
  processEnv?: NodeJS.ProcessEnv;
}

export const defaultExitTimeoutMs = 3 * 60_000;

const stateFile = "terraform.tfstate";
const planFile = "terraform.tfplan";

/** A step failed; `message` is the Complete's error. */
class StepError extends Error {
  override name = "StepError";
}

class ShowOutputError extends Error {
  override name = "ShowOutputError";
}

/** The message of an error (the named errors of runner/version/parse carry a complete one). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name === "AbortError" ? "canceled" : err.message; // AbortError: cancelled while waiting for a lock
}

function stepError(prefix: string, err: unknown): StepError {
  return err instanceof StepError ? err : new StepError(`${prefix}: ${describe(err)}`);
}

/** One Plan or Apply: runs terraform commands with the session's logging, cancellation and timings. */
class Execution {
  readonly timings: Timing[] = [];

  constructor(
    private readonly options: Required<Pick<TerraformProvisionerOptions, "binary" | "exitTimeoutMs">> & {
      clock: Clock;
    },
    readonly session: Session,
    private readonly signal: AbortSignal,
  ) {}

  /** Runs a command whose stdout is -json UI output: logs and timings of `stage`. */
  async runJson(args: string[], env: Env, stage: TimingStage): Promise<void> {
    const aggregator = new TimingAggregator(stage);
    try {
      await runCommand({
        ...this.spec(args, env),
        onStdoutLine: (line) => {
          for (const entry of logsForJsonOutput(line)) this.session.log(entry.level, entry.output);
          const msg = parseJsonLine(line);
          if (msg) aggregator.ingest(msg);
        },
        onStderrLine: (line) => this.plain(line, LogLevel.ERROR),
      });
    } finally {
      this.timings.push(...aggregator.timings());
    }
  }

  /** Runs a command with plain output: stdout logged at `stdoutLevel`, stderr at ERROR. */
  async runPlain(args: string[], env: Env, stdoutLevel: LogLevel): Promise<void> {
    await runCommand({
      ...this.spec(args, env),
      onStdoutLine: (line) => this.plain(line, stdoutLevel),
      onStderrLine: (line) => this.plain(line, LogLevel.ERROR),
    });
  }

  /** Runs a command and returns its stdout; stderr is logged at ERROR. */
  async capture(args: string[], env: Env): Promise<Buffer> {
    const { stdout } = await runCommand({
      ...this.spec(args, env),
      captureStdout: true,
      onStderrLine: (line) => this.plain(line, LogLevel.ERROR),
    });
    return stdout;
  }

  /** Times `fn` as a synthetic init/graph span. */
  async timed<T>(stage: "init" | "graph", fn: () => Promise<T>): Promise<T> {
    const start = this.options.clock.now();
    try {
      const result = await fn();
      this.timings.push(syntheticTiming(stage, start, this.options.clock.now(), false));
      return result;
    } catch (err) {
      this.timings.push(syntheticTiming(stage, start, this.options.clock.now(), true));
      throw err;
    }
  }

  private plain(line: string, level: LogLevel): void {
    const entry = logForPlainOutput(line, level);
    if (entry) this.session.log(entry.level, entry.output);
  }

  private spec(args: string[], env: Env) {
    return {
      binary: this.options.binary,
      args,
      cwd: this.session.workDirectory,
      env,
      signal: this.signal,
      exitTimeoutMs: this.options.exitTimeoutMs,
    };
  }
}

/** `terraform show -json` output; throws when it is not a JSON object. */
function parseShowJson(stdout: Buffer): TerraformShowJson {
  let value: unknown;
  try {
    value = JSON.parse(stdout.toString("utf8"));
  } catch (err) {
    throw new ShowOutputError(`unexpected output of terraform show -json: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ShowOutputError("unexpected output of terraform show -json: not an object");
  }
  return value as TerraformShowJson;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn`; a failure becomes a StepError whose message starts with `prefix`. */
async function step<T>(prefix: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw stepError(prefix, err);
  }
}

export function createTerraformProvisioner(options: TerraformProvisionerOptions = {}): Provisioner {
  const binary = options.binary ?? "terraform";
  const exitTimeoutMs = options.exitTimeoutMs ?? defaultExitTimeoutMs;
  const clock = options.clock ?? systemClock;
  const operatorEnv = validateOperatorEnv(options.extraEnv ?? {});
  const agentScriptEnv = { ...(options.agentScriptEnv ?? {}) };
  const pluginCacheDir = options.pluginCacheDir;

  /** Checks the version and logs the TF_* settings; returns the base env and the version. */
  const start = async (exec: Execution) => {
    const env = baseEnv({ processEnv: options.processEnv ?? process.env, operatorEnv, pluginCacheDir });
    const version = await step("terraform version", async () => {
      try {
        const out = await exec.capture(["version", "-json"], env);
        return checkVersion(parseVersionOutput(out.toString("utf8")));
      } catch (err) {
        if (err instanceof TerraformCommandError && err.message.startsWith("start ")) {
          throw new TerraformCommandError(
            `${err.message} (is terraform installed and on PATH?)`,
            null,
            false,
            false,
          );
        }
        throw err;
      }
    });
    for (const line of describeTfSettings(env)) exec.session.log(LogLevel.WARN, line);
    return { env, version };
  };

  const graph = (exec: Execution, env: Env, version: string): Promise<string> =>
    exec
      .capture(supportsPlanGraph(version) ? ["graph", "-type=plan"] : ["graph"], env)
      .then((dot) => dot.toString("utf8"));

  const plan = async (session: Session, request: PlanRequest, signal: AbortSignal): Promise<PlanComplete> => {
    const exec = new Execution({ binary, exitTimeoutMs, clock }, session, signal);
    try {
      const { env, version } = await start(exec);
      const destroy = request.metadata?.workspaceTransition === WorkspaceTransition.DESTROY;
      // A plan file from an earlier Plan of this session must not be applied if this one fails.
      const planPath = join(session.workDirectory, planFile);
      await rm(planPath, { force: true });
      const state = session.config.state;
      if (destroy && state.length === 0) {
        session.log(LogLevel.INFO, "The terraform state does not exist, there is nothing to do");
        return create(PlanCompleteSchema, {});
      }
      if (state.length > 0) {
        await step(`write statefile ${JSON.stringify(stateFile)}`, () =>
          writeFile(join(session.workDirectory, stateFile), state, { mode: 0o600 }),
        );
      }
      await step("initialize terraform", () =>
        exec.timed("init", () =>
          withPluginCacheLock(
            pluginCacheDir,
            () => exec.runPlain(["init", "-no-color", "-input=false"], env, LogLevel.DEBUG),
            signal,
          ),
        ),
      );
      const modules = await readModules(session.workDirectory);

      const args = ["plan", "-no-color", "-input=false", "-json", "-refresh=true", `-out=${planPath}`];
      if (destroy) args.push("-destroy");
      for (const v of request.variableValues) args.push("-var", `${v.name}=${v.value}`);
      const provisionEnv = {
        ...env,
        ...coderEnv({
          metadata: request.metadata,
          richParameterValues: request.richParameterValues,
          previousParameterValues: request.previousParameterValues,
          externalAuthProviders: request.externalAuthProviders,
          agentScriptEnv,
        }),
      };
      await step("terraform plan", () => exec.runJson(args, provisionEnv, "plan"));

      const [planJson, dot] = await exec.timed("graph", async () => [
        await step("plan resources: show terraform plan file", () =>
          exec.capture(["show", "-json", "-no-color", planPath], env),
        ),
        await step("plan resources: graph", () => graph(exec, env, version)),
      ]);
      const { planValue, converted } = await step("plan resources", () => {
        const planValue = parseShowJson(planJson);
        return { planValue, converted: convertTerraform({ state: planValue, graph: dot, kind: "plan" }) };
      });
      return create(PlanCompleteSchema, {
        resources: converted.resources,
        parameters: converted.parameters,
        presets: converted.presets,
        externalAuthProviders: converted.externalAuthProviders,
        timings: exec.timings,
        modules,
        plan: new Uint8Array(planJson),
        resourceReplacements: resourceReplacements(planValue),
      });
    } catch (err) {
      return create(PlanCompleteSchema, {
        error: stepError("terraform plan", err).message,
        timings: exec.timings,
      });
    }
  };

  const apply = async (
    session: Session,
    request: ApplyRequest,
    signal: AbortSignal,
  ): Promise<ApplyComplete> => {
    const exec = new Execution({ binary, exitTimeoutMs, clock }, session, signal);
    const statePath = join(session.workDirectory, stateFile);
    try {
      const { env, version } = await start(exec);
      const destroy = request.metadata?.workspaceTransition === WorkspaceTransition.DESTROY;
      if (destroy && session.config.state.length === 0) {
        session.log(LogLevel.INFO, "The terraform plan does not exist, there is nothing to do");
        return create(ApplyCompleteSchema, {});
      }
      const planPath = join(session.workDirectory, planFile);
      if (!(await exists(planPath))) {
        throw new StepError(
          "terraform apply: no plan file in this session (a successful Plan must come first)",
        );
      }
      // Parameter values and external auth tokens are baked into the plan file; only metadata is needed.
      const provisionEnv = { ...env, ...coderEnv({ metadata: request.metadata, agentScriptEnv }) };
      const applyArgs = ["apply", "-no-color", "-auto-approve", "-input=false", "-json", planPath];
      await step("terraform apply", () => exec.runJson(applyArgs, provisionEnv, "apply"));

      const stateValue = await step("terraform show state", async () =>
        parseShowJson(await exec.capture(["show", "-json", "-no-color"], env)),
      );
      const dot = await step("get terraform graph", () => graph(exec, env, version));
      // After a destroy the state has no `values`: nothing to convert.
      const converted = stateValue.values
        ? await step("convert state", () =>
            convertTerraform({ state: stateValue, graph: dot, kind: "state" }),
          )
        : undefined;
      const state = await step(`read statefile ${JSON.stringify(stateFile)}`, () => readFile(statePath));
      return create(ApplyCompleteSchema, {
        state: new Uint8Array(state),
        resources: converted?.resources ?? [],
        parameters: converted?.parameters ?? [],
        externalAuthProviders: converted?.externalAuthProviders ?? [],
        timings: exec.timings,
      });
    } catch (err) {
      // Whatever state terraform wrote goes back with the error, so nothing it created is forgotten.
      const state = new Uint8Array(await readFile(statePath).catch(() => Buffer.alloc(0)));
      return create(ApplyCompleteSchema, {
        error: stepError("terraform apply", err).message,
        state,
        timings: exec.timings,
      });
    }
  };

  const parse = async (session: Session): Promise<ParseComplete> => {
    try {
      const parsed = await parseTemplate(session.workDirectory);
      return create(ParseCompleteSchema, {
        templateVariables: parsed.variables,
        workspaceTags: parsed.workspaceTags,
      });
    } catch (err) {
      return create(ParseCompleteSchema, { error: `load module: ${describe(err)}` });
    }
  };

  return { parse: (session) => parse(session), plan, apply };
}
