// The error the CLI turns into one line and an exit code; every command throws it for a user-facing failure.
/** An error the CLI prints as one line (`prewarm: <message>`) before exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}
