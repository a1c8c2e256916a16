// Users, login and API tokens.
import { Type } from "@sinclair/typebox";
import { Nullable, NullableTimestamp, Role, Timestamp } from "./common.js";

export const User = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    email: Type.String(),
    role: Role,
    /** True for the built-in `prebuilds` system user. */
    system: Type.Boolean(),
    createdAt: Timestamp,
  },
  { title: "User" },
);

export const LoginRequest = Type.Object({
  username: Type.String({ minLength: 1 }),
  password: Type.String({ minLength: 1 }),
});

export const LoginResponse = Type.Object(
  {
    token: Type.String({ description: "API token; send it as `Authorization: Bearer <token>`" }),
    expiresAt: NullableTimestamp,
    user: User,
  },
  { title: "LoginResponse" },
);

/**
 * The username rule (docs/api.md states it): a letter or digit, then letters, digits, `_` or `-`, at most 64
 * characters in all.
 */
export const usernamePattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$";

/**
 * The email rule (docs/api.md states it): one `@`; before it no whitespace, control character or `@`; after
 * it a host name of dot-separated labels (letters, digits, inner hyphens; `localhost` is a host name too). At
 * most 254 characters. Deliverability is not our business, only that the address is one. Written so that
 * every string matches in one way only: no backtracking blow-up on a long hostile value.
 */
export const emailPattern =
  "^[^\\s@\\x00-\\x1f\\x7f]+@[a-zA-Z0-9](?:-*[a-zA-Z0-9])*(?:\\.[a-zA-Z0-9](?:-*[a-zA-Z0-9])*)*$";

export const CreateUserRequest = Type.Object({
  // The descriptions are also what a 400 says when the pattern does not match (api/app.ts).
  username: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: usernamePattern,
    description: "letters, digits, `_` and `-`, starting with a letter or digit",
  }),
  email: Type.String({
    minLength: 3,
    maxLength: 254,
    pattern: emailPattern,
    description: "an email address: one `@`, then a host name such as example.com",
  }),
  /** Without a password the user can only use tokens an owner creates for them. */
  password: Type.Optional(Type.String({ minLength: 1 })),
  role: Type.Optional(Role),
});

/** A user's role change; the last owner cannot be made a member (409). */
export const UpdateUserRequest = Type.Object({ role: Role });

export const CreateTokenRequest = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  lifetimeSeconds: Type.Optional(
    Type.Integer({
      description:
        "Absent: the server's default (`--default-token-lifetime`, 7 days). From 1 to `--max-token-lifetime` " +
        "(30 days); 0 or more is a 400 naming `lifetimeSeconds`.",
    }),
  ),
});

export const Token = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    /** The secret; returned only once, at creation. */
    token: Type.String(),
    createdAt: Timestamp,
    expiresAt: Nullable(Timestamp),
  },
  { title: "Token" },
);

/** A token's metadata, as listed: never its secret. */
export const TokenInfo = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    createdAt: Timestamp,
    /** Null only for the first owner's bootstrap token. */
    expiresAt: Nullable(Timestamp),
    /** When it last authenticated a request (to the minute); null if never. */
    lastUsedAt: Nullable(Timestamp),
  },
  { title: "TokenInfo" },
);

export const TokenParams = Type.Object({ id: Type.String({ minLength: 1 }) });
export const UserTokenParams = Type.Object({
  name: Type.String({ minLength: 1 }),
  id: Type.String({ minLength: 1 }),
});
