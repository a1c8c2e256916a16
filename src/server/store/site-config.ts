// Site-wide settings persisted in the database (so every replica and every restart agrees), as key → text.
import type { Executor } from "./store.js";

export const SITE_CONFIG_KEYS = {
  /** "true" while the prebuilds reconciler is paused (`prewarm prebuilds pause`). */
  reconcilerPaused: "prebuilds.reconciliation_paused",
} as const;

export async function getSiteConfig(db: Executor, key: string): Promise<string | undefined> {
  const row = await db.selectFrom("site_config").select("value").where("key", "=", key).executeTakeFirst();
  return row?.value;
}

export async function setSiteConfig(db: Executor, key: string, value: string): Promise<void> {
  await db
    .insertInto("site_config")
    .values({ key, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

export async function isReconcilerPaused(db: Executor): Promise<boolean> {
  return (await getSiteConfig(db, SITE_CONFIG_KEYS.reconcilerPaused)) === "true";
}

export async function setReconcilerPaused(db: Executor, paused: boolean): Promise<void> {
  await setSiteConfig(db, SITE_CONFIG_KEYS.reconcilerPaused, paused ? "true" : "false");
}
