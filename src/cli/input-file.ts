// Reading a JSON input file for an offline command (`prebuilds plan --snapshot`, `prebuilds simulate --input`):
// a path, or "-" for stdin. A file that cannot be read is a CliError (exit 1) saying why in a few words.
import { readFile } from "node:fs/promises";
import { CliError } from "./errors.js";

/** The file's text; `what` names it in the error ("snapshot", "simulation input"). */
export async function readInputFile(file: string, what: string): Promise<string> {
  try {
    if (file === "-") {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    }
    return await readFile(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "is a directory" : e.message;
    throw new CliError(`read ${what} "${file}": ${reason}`);
  }
}
