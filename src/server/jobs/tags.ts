// Provisioner tags decide which daemons may run which jobs. The rule (pure, also expressed in SQL by
// queue.ts for each dialect):
//
//   - a job with tags T is acquired only by a daemon whose tags D contain every pair of T (T ⊆ D);
//   - an untagged job (T = {}) is acquired only by an untagged daemon (D = {}) — "untagged" is itself a
//     scope, so a daemon dedicated to, say, {gpu: "true"} never picks up ordinary work.
//
// Keys and values are strings; keys are non-empty. Tags are stored as canonical JSON (keys sorted), so the
// empty set is always the text `{}`.
export type Tags = Record<string, string>;

export class InvalidTagsError extends Error {
  override name = "InvalidTagsError";
}

/** Validates and sorts tags; returns a fresh object. */
export function normalizeTags(tags: Readonly<Record<string, unknown>> | undefined): Tags {
  const out: Tags = {};
  for (const key of Object.keys(tags ?? {}).sort()) {
    const value = tags?.[key];
    if (key === "") throw new InvalidTagsError("tags: empty tag key");
    if (typeof value !== "string") throw new InvalidTagsError(`tags: value of "${key}" must be a string`);
    out[key] = value;
  }
  return out;
}

/** Canonical JSON of normalized tags (what the `tags` column holds). */
export function serializeTags(tags: Readonly<Record<string, unknown>> | undefined): string {
  return JSON.stringify(normalizeTags(tags));
}

/** Whether a daemon with `daemonTags` may take a job with `jobTags`. */
export function tagsMatch(jobTags: Readonly<Tags>, daemonTags: Readonly<Tags>): boolean {
  const jobKeys = Object.keys(jobTags);
  if (jobKeys.length === 0) return Object.keys(daemonTags).length === 0;
  return jobKeys.every((key) => Object.hasOwn(daemonTags, key) && daemonTags[key] === jobTags[key]);
}
