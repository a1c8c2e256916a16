// Conversions at the store boundary: SQL rows hold millisecond integers, 0/1 flags and JSON text; domain
// objects hold Date, boolean and parsed values.
import type { Flag, Millis } from "./schema.js";

export const toMillis = (date: Date): Millis => date.getTime();
export const toMillisOrNull = (date: Date | null | undefined): Millis | null =>
  date ? date.getTime() : null;
export const toDate = (millis: Millis): Date => new Date(millis);
export const toDateOrNull = (millis: Millis | null): Date | null =>
  millis === null ? null : new Date(millis);

export const toFlag = (value: boolean | undefined): Flag => (value ? 1 : 0);
export const toBool = (flag: number): boolean => flag === 1;

export class CorruptRowError extends Error {
  override name = "CorruptRowError";
}

/** Parses a JSON text column; a corrupt value is a named error saying which column. */
export function parseJsonColumn<T>(text: string, column: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CorruptRowError(`store: column ${column} holds invalid JSON: ${(err as Error).message}`);
  }
}
