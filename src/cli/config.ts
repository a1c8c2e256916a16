// Where the CLI finds its server and token. Resolution (pure, see `resolveConnection`):
//   URL:   --url > PREWARM_URL > the URL saved by `prewarm login` > http://127.0.0.1:7080
//   token: --token > PREWARM_TOKEN > the token saved by `prewarm login`, but only when it was saved for the
//          same URL (a token is never sent to a server it was not issued by).
// The config file is $XDG_CONFIG_HOME/prewarm/config.json (default ~/.config/prewarm/config.json), written
// with mode 0600 in a 0700 directory because it holds a secret.
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError } from "./errors.js";

export const defaultUrl = "http://127.0.0.1:7080";

export interface SavedConfig {
  url?: string;
  token?: string;
  username?: string;
}

export interface ConnectionInputs {
  flags: { url?: string; token?: string };
  env: NodeJS.ProcessEnv;
  saved: SavedConfig;
}

export type TokenSource = "flag" | "env" | "config" | "none";

export interface Connection {
  url: string;
  token: string | undefined;
  tokenSource: TokenSource;
}

/** Normalizes a server URL: adds http:// when no scheme is given, drops trailing slashes. */
export function normalizeUrl(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new CliError(`invalid server URL "${raw}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`invalid server URL "${raw}": only http and https are supported`);
  }
  return parsed.toString().replace(/\/+$/, "");
}

export function resolveConnection({ flags, env, saved }: ConnectionInputs): Connection {
  const url = normalizeUrl(flags.url || env.PREWARM_URL || saved.url || defaultUrl);
  if (flags.token) return { url, token: flags.token, tokenSource: "flag" };
  if (env.PREWARM_TOKEN) return { url, token: env.PREWARM_TOKEN, tokenSource: "env" };
  if (saved.token && saved.url && normalizeUrl(saved.url) === url) {
    return { url, token: saved.token, tokenSource: "config" };
  }
  return { url, token: undefined, tokenSource: "none" };
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "prewarm", "config.json");
}

export async function readConfig(path = configPath()): Promise<SavedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`read config ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    const { url, token, username } = parsed as Record<string, unknown>;
    return {
      ...(typeof url === "string" ? { url } : {}),
      ...(typeof token === "string" ? { token } : {}),
      ...(typeof username === "string" ? { username } : {}),
    };
  } catch (err) {
    throw new CliError(`read config ${path}: ${(err as Error).message} (fix or delete the file)`);
  }
}

/** Writes the config atomically (temp file + rename) with mode 0600. */
export async function writeConfig(config: SavedConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CliError(`write config ${path}: ${(err as Error).message}`);
  }
}
