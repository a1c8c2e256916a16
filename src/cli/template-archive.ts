// Packs a template directory into the tar archive `templates push` uploads. What goes in (like Coder's CLI):
// every regular file and directory, except hidden ones (a leading ".", which also drops .terraform/ and
// .git/) — but .terraform.lock.hcl is kept because it pins provider versions — and except Terraform state
// (*.tfstate*) and variable files (*.tfvars, *.tfvars.json), which hold secrets; pass values with --var.
// Symlinks and special files are refused: the server's extraction would reject them anyway.
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { maxTemplateArchiveBytes } from "../contract/api.js";
import { createTar, type TarInput } from "../provisionersdk/archive.js";
import { CliError } from "./errors.js";

export class TemplateArchiveError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = "TemplateArchiveError";
  }
}

/** Why an entry is left out of the archive, or undefined to keep it. Pure: decides on the name alone. */
export function exclusionReason(name: string, isDirectory: boolean): string | undefined {
  if (name.startsWith(".")) {
    if (!isDirectory && name === ".terraform.lock.hcl") return undefined;
    return "hidden";
  }
  if (name.includes(".tfstate")) return "terraform state";
  if (!isDirectory && (name.endsWith(".tfvars") || name.endsWith(".tfvars.json")))
    return "terraform variables";
  return undefined;
}

export interface TemplateArchive {
  bytes: Uint8Array;
  /** Archive paths of the files packed, sorted. */
  files: string[];
  /** Relative paths left out, sorted (directories end in "/"). */
  skipped: string[];
}

const MiB = 1024 * 1024;
const formatMiB = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** Reads `dir` and builds a reproducible archive (sorted entries, fixed mtimes) of at most `maxBytes`. */
export async function buildTemplateArchive(
  dir: string,
  maxBytes: number = maxTemplateArchiveBytes,
): Promise<TemplateArchive> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory())
    throw new TemplateArchiveError(`template directory "${dir}" does not exist or is not a directory`);
  const entries: TarInput[] = [];
  const files: string[] = [];
  const skipped: string[] = [];
  let total = 0;

  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const childAbs = join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const stat = await lstat(childAbs);
      const reason = exclusionReason(name, stat.isDirectory());
      if (reason) {
        skipped.push(stat.isDirectory() ? `${childRel}/` : childRel);
        continue;
      }
      if (stat.isSymbolicLink()) {
        throw new TemplateArchiveError(
          `${childRel}: symbolic links are not supported in templates; copy the file instead`,
        );
      }
      if (stat.isDirectory()) {
        entries.push({ path: `${childRel}/`, mode: stat.mode & 0o777 });
        await walk(childAbs, childRel);
      } else if (stat.isFile()) {
        total += stat.size;
        if (total > maxBytes) {
          throw new TemplateArchiveError(
            `template directory "${dir}" holds more than the ${formatMiB(maxBytes)} limit (at ${childRel}); ` +
              "remove large files (hidden files, *.tfstate* and *.tfvars are already left out)",
          );
        }
        entries.push({ path: childRel, data: await readFile(childAbs), mode: stat.mode & 0o777 });
        files.push(childRel);
      } else {
        throw new TemplateArchiveError(`${childRel}: not a regular file or directory`);
      }
    }
  };
  await walk(dir, "");
  if (files.length === 0) throw new TemplateArchiveError(`template directory "${dir}" has no files to push`);
  const bytes = createTar(entries);
  if (bytes.length > maxBytes) {
    throw new TemplateArchiveError(
      `template archive is ${formatMiB(bytes.length)}, over the ${formatMiB(maxBytes)} limit; remove large files`,
    );
  }
  return { bytes, files, skipped: skipped.sort() };
}
