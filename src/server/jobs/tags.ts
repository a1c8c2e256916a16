// Provisioner tags decide which daemons may run which jobs. Coder's rules, pure (the match is also expressed
// in SQL by queue.ts for each dialect):
//
//   - every tag set is normalised by `mutateTags` (Coder's provisionersdk.MutateTags): a set without a
//     `scope` gets `scope=organization, owner=""`; `scope=user` sets `owner` to the user the set is for; any
//     other scope becomes `organization` with `owner=""`. So "untagged" is the set UNTAGGED, never `{}`;
//   - a job whose tags are exactly UNTAGGED is acquired only by a daemon whose tags are exactly UNTAGGED — a
//     daemon dedicated to, say, {gpu: "true"} never picks up ordinary work;
//   - any other job is acquired by a daemon whose tags contain every pair of the job's (job ⊆ daemon).
//
// A build's tags (`buildJobTags`, Coder's wsbuilder): the version's tags (given at push, stored on its
// import job) mutated for the workspace's owner, then the template's `coder_workspace_tags` evaluated for
// this build (workspace-tags.ts) laid over them.
//
// Keys and values are strings; `validateTags` says which (clear errors for the API and the CLI). Tags are
// stored as canonical JSON (keys sorted).
export type Tags = Record<string, string>;

export const TAG_SCOPE = "scope";
export const TAG_OWNER = "owner";
export const SCOPE_USER = "user";
export const SCOPE_ORGANIZATION = "organization";

/** The tags of an untagged job or daemon (what `mutateTags` makes of `{}`). */
export const UNTAGGED: Readonly<Tags> = Object.freeze({ [TAG_OWNER]: "", [TAG_SCOPE]: SCOPE_ORGANIZATION });

export class InvalidTagsError extends Error {
  override name = "InvalidTagsError";
}

const MAX_KEY = 128;
const MAX_VALUE = 256;
/** Printable, no whitespace: a key must survive `--tag k=v`, logs and JSON unquoted-looking. */
const KEY = /^[^\s=\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;

/**
 * Checks tags given by a person (version tags, `--tag`): non-empty keys of at most 128 printable characters
 * without whitespace or `=`, string values of at most 256 characters without control characters, and a
 * `scope` (if any) of `organization`. Returns them sorted; throws InvalidTagsError naming the tag.
 */
export function validateTags(tags: Readonly<Record<string, unknown>> | undefined): Tags {
  const out = normalizeTags(tags);
  for (const [key, value] of Object.entries(out)) {
    if (key.length > MAX_KEY)
      throw new InvalidTagsError(`tag key "${key.slice(0, 32)}…" is longer than ${MAX_KEY}`);
    if (!KEY.test(key)) {
      throw new InvalidTagsError(
        `tag key ${JSON.stringify(key)}: use printable characters without spaces or "="`,
      );
    }
    if (value.length > MAX_VALUE)
      throw new InvalidTagsError(`tag "${key}": value is longer than ${MAX_VALUE}`);
    if (CONTROL.test(value)) throw new InvalidTagsError(`tag "${key}": value contains a control character`);
  }
  const scope = out[TAG_SCOPE];
  if (scope === SCOPE_USER) {
    // A user-scoped daemon runs the jobs of the user it authenticated as; prewarm daemons authenticate with
    // the pre-shared key only, so a user-scoped job could never run.
    throw new InvalidTagsError(
      'tag scope=user needs user-scoped daemons, which prewarm does not have (daemons authenticate with the pre-shared key): drop "scope" or use scope=organization',
    );
  }
  if (scope !== undefined && scope !== SCOPE_ORGANIZATION) {
    throw new InvalidTagsError(`tag "scope" must be "organization", not ${JSON.stringify(scope)}`);
  }
  return out;
}

/** Sorts tags and checks their shape (string values, non-empty keys); returns a fresh object. */
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

/** Coder's MutateTags: fixes `scope` and `owner` for the user the set is for (see the header). */
export function mutateTags(userId: string, tags: Readonly<Tags> | undefined): Tags {
  const out: Tags = { ...tags };
  if (out[TAG_SCOPE] === SCOPE_USER) {
    out[TAG_OWNER] = userId;
  } else {
    out[TAG_SCOPE] = SCOPE_ORGANIZATION;
    out[TAG_OWNER] = "";
  }
  return normalizeTags(out);
}

/** A build job's tags: the version's tags for the workspace's owner, overlaid with its evaluated workspace tags. */
export function buildJobTags(
  versionTags: Readonly<Tags>,
  ownerId: string,
  workspaceTags: Readonly<Tags>,
): Tags {
  return normalizeTags({ ...mutateTags(ownerId, versionTags), ...workspaceTags });
}

/** Canonical JSON of normalized tags (what the `tags` column holds). */
export function serializeTags(tags: Readonly<Record<string, unknown>> | undefined): string {
  return JSON.stringify(normalizeTags(tags));
}

const isUntagged = (tags: Readonly<Tags>) => serializeTags(tags) === serializeTags(UNTAGGED);

/** Whether a daemon with `daemonTags` may take a job with `jobTags` (both already mutated). */
export function tagsMatch(jobTags: Readonly<Tags>, daemonTags: Readonly<Tags>): boolean {
  if (isUntagged(jobTags)) return isUntagged(daemonTags);
  return Object.keys(jobTags).every(
    (key) => Object.hasOwn(daemonTags, key) && daemonTags[key] === jobTags[key],
  );
}
