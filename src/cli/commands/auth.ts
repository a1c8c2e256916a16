// `prewarm login` / `logout`, `prewarm users …` and `prewarm tokens create|list|delete`.
// login takes a token (--token, checked against the server) or a username and password; it prompts only on
// a terminal, so scripts get an error instead of a hang. The token is saved to the config file (mode 0600).
// Registered by ../register/auth.ts.
import { createInterface } from "node:readline/promises";
import { Writable } from "node:stream";
import { routes, type TokenInfoT, type UserT } from "../../contract/api.js";
import { parseDuration } from "../../util/duration.js";
import { ApiClient, type ApiOptions, commandContext } from "../client.js";
import { configPath, readConfig, resolveConnection, writeConfig } from "../config.js";
import { CliError } from "../errors.js";
import { colorsFor, formatAgo, parseOutputFormat, printData, renderTable } from "../output.js";

/** Asks on the terminal (stderr), echoing nothing when `hidden`. */
async function ask(question: string, hidden = false): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = rl.question(question);
    muted = hidden;
    const text = await answer;
    if (hidden) process.stderr.write("\n");
    return text.trim();
  } finally {
    rl.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

export interface LoginOptions extends ApiOptions {
  username?: string;
  passwordStdin?: boolean;
}

export async function login(urlArg: string | undefined, options: LoginOptions): Promise<void> {
  const format = parseOutputFormat(options.output ?? "table");
  const path = configPath();
  const saved = await readConfig(path);
  // A login replaces the saved token, so it never falls back to it.
  const connection = resolveConnection({
    flags: { url: urlArg ?? options.url, token: options.token },
    env: { ...process.env, PREWARM_TOKEN: options.token ? undefined : process.env.PREWARM_TOKEN },
    saved: { ...(saved.url ? { url: saved.url } : {}) },
  });
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  let token = connection.token;
  let user: UserT;
  if (token) {
    user = await new ApiClient(connection).call(routes.me);
  } else {
    const username = options.username ?? (interactive ? await ask("Username: ") : undefined);
    const password = options.passwordStdin
      ? await readStdin()
      : interactive
        ? await ask("Password: ", true)
        : undefined;
    if (!username || !password) {
      throw new CliError(
        "login: no credentials; pass --token TOKEN (or set PREWARM_TOKEN), or --username NAME with --password-stdin " +
          "(prompts only on a terminal)",
        2,
      );
    }
    const reply = await new ApiClient(connection).call(routes.login, { body: { username, password } });
    token = reply.token;
    user = reply.user;
  }
  await writeConfig({ url: connection.url, token, username: user.username }, path);
  if (format !== "table") return printData(format, user);
  process.stdout.write(
    `Logged in to ${connection.url} as ${user.username} (${user.role}); token saved to ${path}.\n`,
  );
}

export async function logout(): Promise<void> {
  const path = configPath();
  const saved = await readConfig(path);
  if (!saved.token) {
    process.stdout.write("Not logged in.\n");
    return;
  }
  await writeConfig({ ...(saved.url ? { url: saved.url } : {}) }, path);
  process.stdout.write(`Logged out of ${saved.url ?? "the server"}; the token was removed from ${path}.\n`);
}

function userTable(users: UserT[]): string {
  const now = new Date();
  const colors = colorsFor();
  return renderTable(
    [
      { header: "username", value: (u: UserT) => u.username },
      { header: "email", value: (u) => u.email },
      { header: "role", value: (u) => u.role + (u.system ? " (system)" : "") },
      { header: "created", value: (u) => formatAgo(u.createdAt, now) },
    ],
    users,
    colors,
  );
}

export async function whoami(options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const me = await client.call(routes.me);
  if (format !== "table") return printData(format, me);
  process.stdout.write(`${me.username} (${me.role}) at ${client.url}\n`);
}

export async function listUsers(options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const users = await client.call(routes.listUsers);
  if (format !== "table") return printData(format, users);
  process.stdout.write(userTable(users));
}

export interface CreateUserOptions extends ApiOptions {
  email: string;
  role: string;
  passwordStdin?: boolean;
}

export async function createUser(username: string, options: CreateUserOptions) {
  if (options.role !== "owner" && options.role !== "member") {
    throw new CliError(`invalid --role "${options.role}" (use owner or member)`, 2);
  }
  const password = options.passwordStdin ? await readStdin() : undefined;
  if (options.passwordStdin && !password)
    throw new CliError("users create: --password-stdin read an empty password", 2);
  const { client, format } = await commandContext(options);
  const user = await client.call(routes.createUser, {
    body: { username, email: options.email, role: options.role, ...(password ? { password } : {}) },
  });
  if (format !== "table") return printData(format, user);
  process.stdout.write(`User ${user.username} (${user.role}) created.\n`);
}

export async function setRole(username: string, role: string, options: ApiOptions) {
  if (role !== "owner" && role !== "member") {
    throw new CliError(`invalid role "${role}" (use owner or member)`, 2);
  }
  const { client, format } = await commandContext(options);
  const user = await client.call(routes.updateUser, { params: { name: username }, body: { role } });
  if (format !== "table") return printData(format, user);
  process.stdout.write(`User ${user.username} is now ${user.role}.
`);
}

export async function createToken(options: ApiOptions & { name?: string; lifetime?: string }) {
  let lifetimeSeconds: number | undefined;
  if (options.lifetime !== undefined) {
    try {
      lifetimeSeconds = Math.round(parseDuration(options.lifetime) / 1000);
    } catch (err) {
      throw new CliError(`--lifetime: ${(err as Error).message}`, 2);
    }
  }
  const { client, format } = await commandContext(options);
  const token = await client.call(routes.createToken, {
    body: {
      ...(options.name ? { name: options.name } : {}),
      ...(lifetimeSeconds === undefined ? {} : { lifetimeSeconds }),
    },
  });
  if (format !== "table") return printData(format, token);
  // The bare token on stdout so `$(prewarm tokens create)` works; the note goes to stderr.
  process.stderr.write(
    `Token "${token.name}" created${token.expiresAt ? `, expires ${token.expiresAt}` : ""}; it is shown only once.\n`,
  );
  process.stdout.write(`${token.token}\n`);
}

function tokenTable(tokens: TokenInfoT[]): string {
  const now = new Date();
  return renderTable(
    [
      { header: "id", value: (t: TokenInfoT) => t.id },
      { header: "name", value: (t) => t.name },
      { header: "created", value: (t) => formatAgo(t.createdAt, now) },
      { header: "expires", value: (t) => (t.expiresAt ? formatAgo(t.expiresAt, now) : "never") },
      { header: "last used", value: (t) => (t.lastUsedAt ? formatAgo(t.lastUsedAt, now) : "never") },
    ],
    tokens,
    colorsFor(),
  );
}

export async function listTokens(options: ApiOptions & { user?: string }) {
  const { client, format } = await commandContext(options);
  const tokens = options.user
    ? await client.call(routes.listUserTokens, { params: { name: options.user } })
    : await client.call(routes.listMyTokens);
  if (format !== "table") return printData(format, tokens);
  process.stdout.write(tokenTable(tokens));
}

export async function deleteToken(id: string, options: ApiOptions & { user?: string }) {
  const { client } = await commandContext(options);
  if (options.user) await client.call(routes.deleteUserToken, { params: { name: options.user, id } });
  else await client.call(routes.deleteMyToken, { params: { id } });
  process.stdout.write(`Token ${id} deleted; requests with it are refused from now on.\n`);
}
