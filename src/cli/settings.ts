// The flags of the long-running commands (`server`, `demo`, `provisioner start`) as settings: each is declared
// once — flag, help, default — and gets from that one declaration an environment variable, a key in the
// `--config` file and, for a secret, a `--NAME-file` twin, so a process can be configured without putting a
// password or key on its command line (where `ps` shows it to every user of the machine).
//
// Adding a flag: append a Setting to the command's list (SERVER_SETTINGS in commands/server.ts, DAEMON_SETTINGS
// in commands/provisioner-start.ts) and read it from the action's options. Nothing else to wire:
//   - its environment variable is the command's prefix + the flag name in upper snake case
//     (`--reconcile-interval` → PREWARM_RECONCILE_INTERVAL) unless `env` names another one;
//   - its config-file key is the flag name without dashes in front (`reconcile-interval: 15s`);
//   - `secret: true` adds `--NAME-file` (env …_FILE, key NAME-file), hides the value from help and warns when
//     the value is given on the command line.
//
// Precedence, highest first: command line, environment, config file, default. An empty environment variable
// counts as unset (compose files write `VAR=` for "not given"). Values reach the action as strings (lists for
// repeatable flags, booleans for switches); the command parses them and names a bad one with `settingLabel`,
// which says where the value came from.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Command, CommanderError, Option } from "commander";
import { CliError } from "./errors.js";

export interface Setting {
  /** Commander flags: `--listen <host:port>`, or `--dev` for a switch. */
  flags: string;
  description: string;
  /** Shown in help and used when no source gives a value. Never set one for a secret. */
  default?: string;
  /** Help text for a default decided elsewhere ("random", "the listen URL"). */
  defaultDescription?: string;
  /** Repeatable: a list; comma-separated in the environment; a list, or a mapping of key=value items, in a file. */
  repeatable?: boolean;
  choices?: readonly string[];
  /** A password or key: never shown, also read from `--NAME-file`, a warning when given as a flag. */
  secret?: boolean;
  /** Checked once every source was read (commander's own check runs before the config file is). */
  required?: boolean;
  /** The environment variable, when it is not the derived one. */
  env?: string;
}

interface Declared {
  setting: Setting;
  option: Option;
  /** The flag name: `reconcile-interval` (also the config-file key). */
  name: string;
  /** commander's attribute: `reconcileInterval`. */
  key: string;
  env: string;
  /** For a secret: its `--NAME-file` twin. */
  file?: Declared;
}

type Value = string | string[] | boolean | undefined;

const labelsOf = new WeakMap<Command, Map<string, string>>();

function envName(prefix: string, name: string): string {
  return `${prefix}${name.toUpperCase().replaceAll("-", "_")}`;
}

function declare(command: Command, setting: Setting, envPrefix: string): Declared {
  // Commander shows "(default: …)" only for a default value it holds; one decided elsewhere goes in the text.
  const description =
    setting.defaultDescription === undefined
      ? setting.description
      : `${setting.description} (default: ${setting.defaultDescription})`;
  const option = new Option(setting.flags, description);
  const name = (option.long ?? "").replace(/^--/, "");
  const env = setting.env ?? envName(envPrefix, name);
  option.env(env);
  if (setting.choices) option.choices(setting.choices);
  if (setting.default !== undefined) option.default(setting.default);
  // Commander appends the repeated values; the environment's comma-separated list is split in resolve().
  if (setting.repeatable)
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  command.addOption(option);
  return { setting, option, name, key: option.attributeName(), env };
}

/**
 * Adds the settings (and `--config`) to the command and resolves every source before its action runs.
 * `envPrefix`: `PREWARM_` for the server, `PREWARM_DAEMON_` for the daemon.
 */
export function addSettings(command: Command, settings: readonly Setting[], envPrefix: string): Command {
  const declared: Declared[] = [];
  for (const setting of settings) {
    const d = declare(command, setting, envPrefix);
    if (setting.secret) {
      const flag = `--${d.name}-file <file>`;
      d.file = declare(
        command,
        { flags: flag, description: `read ${d.option.long} from this file (safer than the flag)` },
        envPrefix,
      );
      d.file.env = `${d.env}_FILE`;
      d.file.option.env(d.file.env);
      declared.push(d, d.file);
    } else declared.push(d);
  }
  const config = declare(
    command,
    {
      flags: "--config <file>",
      description:
        "a YAML or JSON file of these settings, keyed by flag name (below flags and the environment)",
    },
    envPrefix,
  );
  // Commander's own usage errors (an unknown flag, a value not among the choices) exit 2, as ours do.
  command.exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  });
  command.hook("preAction", (cmd) => resolve(cmd, declared, config));
  return command;
}

/** How to name a setting in a message: the flag, and where its value came from when not the command line. */
export function settingLabel(command: Command, flag: string): string {
  return labelsOf.get(command)?.get(flag.replace(/^--/, "")) ?? flag;
}

function resolve(command: Command, declared: readonly Declared[], config: Declared): void {
  const labels = new Map<string, string>();
  const configFile = command.getOptionValue(config.key) as string | undefined;
  const fromFile = configFile ? readConfigFile(configFile, declared) : {};
  for (const d of declared) {
    let source = command.getOptionValueSource(d.key);
    let value = command.getOptionValue(d.key) as Value;
    if (source === "env") {
      value = fromEnvironment(d, value);
      if (value === undefined) source = undefined;
      else labels.set(d.name, `${d.env} (--${d.name})`);
    } else if (source === "cli") {
      labels.set(d.name, `--${d.name}`);
    }
    const fileValue = fromFile[d.name];
    if ((source === undefined || source === "default") && fileValue !== undefined) {
      value = fromConfig(d, fileValue, configFile ?? "");
      source = "config";
      labels.set(d.name, `--${d.name} (${d.name} in ${configFile})`);
    } else if (source === undefined) {
      value = d.option.defaultValue as Value;
      source = value === undefined ? undefined : "default";
    }
    // With its source: readSecret() asks whether a secret came from the command line.
    command.setOptionValueWithSource(d.key, value, source);
  }
  for (const d of declared) {
    if (d.file) readSecret(command, d, labels);
    if (d.setting.required && command.getOptionValue(d.key) === undefined) {
      throw new CliError(
        `--${d.name} is required (or set ${d.env}${d.file ? `, --${d.name}-file` : ""}, or ${d.name} in a --config file)`,
        2,
      );
    }
  }
  labelsOf.set(command, labels);
}

/** An empty variable is unset; a list is comma-separated; a switch is on unless "false", "0" or "no". */
function fromEnvironment(d: Declared, value: Value): Value {
  const raw = process.env[d.env] ?? "";
  if (raw.trim() === "") return undefined;
  if (d.setting.repeatable) return splitList(raw);
  if (typeof value === "boolean") return !["false", "0", "no", "off"].includes(raw.trim().toLowerCase());
  return value;
}

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function fromConfig(d: Declared, value: unknown, file: string): Value {
  const where = `${d.name} in ${file}`;
  const isSwitch = d.option.isBoolean();
  if (isSwitch) {
    if (typeof value !== "boolean") throw new CliError(`${where}: expected true or false`, 2);
    return value;
  }
  if (d.setting.repeatable) {
    const items = Array.isArray(value)
      ? value
      : value !== null && typeof value === "object"
        ? Object.entries(value).map(([k, v]) => `${k}=${scalar(v, where)}`)
        : [value];
    return items.map((item) => scalar(item, where));
  }
  const text = scalar(value, where);
  if (d.setting.choices && !d.setting.choices.includes(text)) {
    throw new CliError(`${where}: "${text}" is not one of ${d.setting.choices.join(", ")}`, 2);
  }
  return text;
}

/** A config value as the flag's text: YAML reads `15` as a number, which the flag's parser then judges. */
function scalar(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new CliError(`${where}: expected a string, got ${value === null ? "null" : typeof value}`, 2);
}

function readConfigFile(file: string, declared: readonly Declared[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`--config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, 2);
  }
  let parsed: unknown;
  try {
    // YAML 1.2 reads JSON too, so one parser serves both formats.
    // yaml loads only when a --config file is read: every command registers its settings at start-up.
    const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    parsed = parse(text);
  } catch (err) {
    throw new CliError(
      `--config: ${file} is neither YAML nor JSON: ${(err as Error).message.split("\n")[0]}`,
      2,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CliError(`--config: ${file} must be a mapping of setting names to values`, 2);
  }
  const known = new Set(declared.map((d) => d.name));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      throw new CliError(
        `--config: unknown setting "${key}" in ${file} (the keys are the flag names: ${[...known].join(", ")})`,
        2,
      );
    }
  }
  return parsed as Record<string, unknown>;
}

/** A secret given directly or through its file (not both); a secret on the command line gets a warning. */
function readSecret(command: Command, d: Declared, labels: Map<string, string>): void {
  const file = d.file!;
  const direct = command.getOptionValue(d.key) as string | undefined;
  const path = command.getOptionValue(file.key) as string | undefined;
  if (direct !== undefined && path !== undefined) {
    throw new CliError(`give either ${settingName(labels, d)} or ${settingName(labels, file)}, not both`, 2);
  }
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new CliError(
        `${settingName(labels, file)}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        2,
      );
    }
    // Files written by `echo` or editors end in a newline that is not part of the key.
    const value = text.replace(/\r?\n$/, "");
    if (value === "") throw new CliError(`${settingName(labels, file)}: ${path} is empty`, 2);
    command.setOptionValueWithSource(d.key, value, "file");
    labels.set(d.name, `--${d.name} (from ${path})`);
  } else if (direct !== undefined && command.getOptionValueSource(d.key) === "cli") {
    process.stderr.write(
      `prewarm: warning: --${d.name} on the command line can be read by other users (ps, shell history); use ${d.env} or --${d.name}-file\n`,
    );
    maskInProcessTitle(direct);
  }
}

function settingName(labels: Map<string, string>, d: Declared): string {
  return labels.get(d.name) ?? `--${d.name}`;
}

/** What ps shows from now on: the command line with the secret replaced (Linux rewrites the argv area). */
function maskInProcessTitle(secret: string): void {
  try {
    process.title = [process.argv[0] ?? "node", ...process.execArgv, ...process.argv.slice(1)]
      .map((arg) =>
        arg === secret ? "***" : arg.endsWith(`=${secret}`) ? `${arg.slice(0, -secret.length)}***` : arg,
      )
      .join(" ");
  } catch {
    // Not every platform lets a process rename itself; the warning stands.
  }
}
