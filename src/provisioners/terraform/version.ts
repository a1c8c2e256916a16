// Which terraform versions prewarm runs, from `terraform version -json`. Pure.

/** Oldest terraform prewarm runs: 1.0 made the `-json` UI output and `show -json` formats stable. */
export const minTerraformVersion = "1.0.0";
/** From this version on `terraform graph -type=plan` exists (older ones only have the default graph). */
const planGraphVersion = "1.7.0";

export class TerraformVersionError extends Error {
  override name = "TerraformVersionError";
}

function parts(version: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  if (!pa || !pb) throw new TerraformVersionError(`cannot compare terraform versions ${a} and ${b}`);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** The version from `terraform version -json` output. */
export function parseVersionOutput(stdout: string): string {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new TerraformVersionError(
      `unexpected output of "terraform version -json": ${stdout.slice(0, 200)}`,
    );
  }
  const version = (value as { terraform_version?: unknown } | null)?.terraform_version;
  if (typeof version !== "string" || !parts(version)) {
    throw new TerraformVersionError(`"terraform version -json" reports no version: ${stdout.slice(0, 200)}`);
  }
  return version;
}

/** Returns `version` when supported; throws a TerraformVersionError saying what is required otherwise. */
export function checkVersion(version: string): string {
  if (compareVersions(version, minTerraformVersion) < 0) {
    throw new TerraformVersionError(
      `terraform version ${JSON.stringify(version)} is too old. required >= ${JSON.stringify(minTerraformVersion)}`,
    );
  }
  return version;
}

export function supportsPlanGraph(version: string): boolean {
  return compareVersions(version, planGraphVersion) >= 0;
}
