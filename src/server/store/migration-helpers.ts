// Building blocks the migrations share: the per-dialect column types ("flavours") and a few column helpers.
// Imports nothing from the migration list, so each migration file can use it without an import circle.
import { type ColumnDataType, type CreateTableBuilder, type Expression, sql } from "kysely";
import type { Dialect } from "./dialect.js";

export interface ColumnTypes {
  /** Millis timestamps and other 64-bit integers. SQLite's INTEGER is 64-bit; "bigint" has INTEGER affinity. */
  bigint: ColumnDataType;
  bytes: ColumnDataType;
}

export function columnTypes(dialect: Dialect): ColumnTypes {
  return dialect === "postgres" ? { bigint: "bigint", bytes: "bytea" } : { bigint: "bigint", bytes: "blob" };
}

// Kysely's table builder is generic in the table/column names; migrations only need it untyped.
// biome-ignore lint/suspicious/noExplicitAny: schema builders in migrations are deliberately untyped.
export type Table = CreateTableBuilder<any, any>;

/** A serial primary key `id` (log lines, timings, events): BIGSERIAL on PG, INTEGER PRIMARY KEY on SQLite. */
export function serialId(t: Table, dialect: Dialect): Table {
  return dialect === "postgres"
    ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
    : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
}

export function oneOf(column: string, values: readonly string[]): Expression<unknown> {
  return sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(", ")})`);
}

export const flag = (column: string) => sql.raw(`${column} in (0, 1)`);
