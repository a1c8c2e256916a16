// login, logout, whoami, users and tokens: arguments and options; the implementations load from
// ../commands/auth.ts when a command runs.
import type { Command } from "commander";
import type { CreateUserOptions, LoginOptions } from "../commands/auth.js";
import { withApiOptions } from "../options.js";

const auth = () => import("../commands/auth.js");

export function registerAuthCommands(program: Command): void {
  withApiOptions(
    program
      .command("login [url]")
      .description("Log in to a prewarm server and save the token (prompts only on a terminal)")
      .option("-u, --username <name>", "username (with a password prompt or --password-stdin)")
      .option("--password-stdin", "read the password from stdin"),
  ).action(async (url: string | undefined, options: LoginOptions) => (await auth()).login(url, options));
  program
    .command("logout")
    .description("Remove the saved token")
    .action(async () => (await auth()).logout());
  withApiOptions(program.command("whoami").description("Show the user the token belongs to")).action(
    async (o) => (await auth()).whoami(o),
  );

  const users = program.command("users").alias("user").description("Manage users (owners only)");
  withApiOptions(users.command("list").alias("ls").description("List users")).action(async (o) =>
    (await auth()).listUsers(o),
  );
  withApiOptions(
    users
      .command("create <username>")
      .description("Create a user")
      .requiredOption("-e, --email <email>", "email address")
      .option("-r, --role <role>", "owner or member", "member")
      .option("--password-stdin", "read a password from stdin (otherwise the user logs in with tokens only)"),
  ).action(async (username: string, o: CreateUserOptions) => (await auth()).createUser(username, o));
  withApiOptions(
    users.command("role <username> <role>").description("Make a user an owner or a member"),
  ).action(async (username: string, role: string, o) => (await auth()).setRole(username, role, o));

  const tokens = program.command("tokens").alias("token").description("Manage your API tokens");
  withApiOptions(
    tokens
      .command("create")
      .description("Create an API token for yourself and print it")
      .option("-n, --name <name>", "a name to recognise it by")
      .option("--lifetime <duration>", "e.g. 30d, 24h (default: the server's, 7d; at most its maximum, 30d)"),
  ).action(async (o) => (await auth()).createToken(o));
  withApiOptions(
    tokens
      .command("list")
      .alias("ls")
      .description("List your API tokens (never their secrets)")
      .option("--user <name>", "another user's tokens (owners only)"),
  ).action(async (o) => (await auth()).listTokens(o));
  withApiOptions(
    tokens
      .command("delete <id>")
      .alias("rm")
      .description("Revoke an API token by its id (as `tokens list` shows it)")
      .option("--user <name>", "a token of another user (owners only)"),
  ).action(async (id: string, o) => (await auth()).deleteToken(id, o));
}
