// The built-in system user that owns unclaimed prebuilds (the same fixed id Coder uses). A claim changes a
// prebuild's owner from this user to the claimer; migration 0001 creates the user; it cannot log in.
export const PREBUILDS_USER_ID = "c42fdf75-3097-471c-8c33-fb52454d81c0";
export const PREBUILDS_USERNAME = "prebuilds";
