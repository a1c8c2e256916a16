// Shared building blocks of the HTTP API contract (ARCHITECTURE §6): the error body, timestamps, enums.
// JSON field names here are a public contract: scripts rely on them. Add fields, never rename or remove.

import { type TLiteral, type TSchema, type TUnion, Type } from "@sinclair/typebox";
import { PRESET_STATUSES } from "../planning/plan.js";

/** Every non-2xx answer carries this body. `field` names the offending input field when there is one. */
export const ErrorBody = Type.Object(
  {
    message: Type.String({ description: "One line saying what went wrong" }),
    detail: Type.Optional(Type.String({ description: "More context (may be several lines)" })),
    field: Type.Optional(Type.String({ description: "The request field that was invalid" })),
  },
  { title: "ErrorBody" },
);

/** An ISO-8601 UTC timestamp, e.g. "2026-01-05T10:00:00.000Z". */
export const Timestamp = Type.String({ format: "date-time" });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

/**
 * A string enum as a union of literals (`anyOf` of `const`s): validated by Fastify's Ajv, checkable with
 * TypeBox's `Value`, and typed as the union of the values.
 */
export function StringEnum<const T extends readonly [string, ...string[]]>(values: T, description?: string) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  ) as TUnion<TLiteral<T[number]>[]>;
}

/** Job and build status, derived by the server from the job's timestamps. */
export const JobStatus = StringEnum(["pending", "running", "succeeded", "failed", "canceling", "canceled"]);
export const Provisioner = StringEnum(["echo", "terraform"], "Provisioner type of a template version");
export const Transition = StringEnum(["start", "stop", "delete"]);
export const Role = StringEnum(["owner", "member"], "owner = administrator");
export const PresetStatus = StringEnum(PRESET_STATUSES);
export const AgentLifecycleState = StringEnum([
  "created",
  "starting",
  "ready",
  "start_error",
  "shutting_down",
  "off",
]);
export const AgentStatus = StringEnum(["connected", "connecting", "disconnected"]);
export const LogLevel = StringEnum(["trace", "debug", "info", "warn", "error"]);

/** Error responses a route may answer with, keyed by status code, for the `response` map. */
export function errorResponses<const C extends readonly number[]>(...codes: C) {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody])) as { [K in C[number]]: typeof ErrorBody };
}

export const NoContent = Type.Null({ description: "No body" });
