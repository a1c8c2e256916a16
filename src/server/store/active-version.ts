// The rule "a version is ACTIVE when it is its template's active version and the template is neither deleted
// nor deprecated" (ARCHITECTURE §5: only an active preset desires prebuilds, and only an active one is claimed
// from), in its two forms side by side — the TypeScript predicate and the equivalent SQL — so that the
// reconciler's snapshot, the claim, the prebuild executor and the views cannot disagree.
import { type RawBuilder, sql } from "kysely";

export interface TemplateActivity {
  activeVersionId: string | null;
  deleted: boolean;
  deprecated: string;
}

export function isActiveVersion(template: TemplateActivity, versionId: string): boolean {
  return template.activeVersionId === versionId && !template.deleted && template.deprecated === "";
}

/** The same rule in SQL over the `templates` row `t` and the version id expression `versionId`. */
export function activeVersionSql(t: string, versionId: string): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(`${t}.active_version_id`)} = ${sql.ref(versionId)} and ${sql.ref(`${t}.deleted`)} = 0 and ${sql.ref(`${t}.deprecated`)} = '')`;
}
