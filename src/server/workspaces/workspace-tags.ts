// A build's dynamic provisioner tags: the template's `coder_workspace_tags` (imported as expression source,
// as Coder stores them) evaluated when the build is created — the job's tags must be known before any daemon
// can take it, so they cannot wait for the build's own plan. What an expression may refer to is what the
// coder provider would give the build's plan: `var.<name>` (the version's variable values),
// `data.coder_parameter.<name>.value` (this build's parameter values, by parameter name, as Coder's tfparse
// does), `data.coder_workspace_owner.<any>.{id,name,email,full_name,login_type}` and
// `data.coder_workspace.<any>.{id,name,transition,start_count,is_prebuild}`. A value that evaluates to null
// sets no tag: that is how a `count = 0` block (folded into its values at parse) sets none. Pure.
import { asString, ExpressionError, evaluateExpression, type Lookup, type Value } from "./tag-expression.js";

export interface WorkspaceTagContext {
  variables: Readonly<Record<string, string>>;
  parameters: Readonly<Record<string, string>>;
  owner: { id: string; name: string; email: string; fullName: string; loginType: string };
  workspace: { id: string; name: string; transition: "start" | "stop" | "delete"; isPrebuild: boolean };
}

/** A workspace tag that cannot be evaluated: the build is refused (a 400, or a prebuild's validation failure). */
export class WorkspaceTagError extends Error {
  override name = "WorkspaceTagError";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`workspace tag "${key}": ${message}`);
  }
}

function lookupIn(ctx: WorkspaceTagContext): Lookup {
  const owner: Record<string, Value> = {
    id: ctx.owner.id,
    name: ctx.owner.name,
    email: ctx.owner.email,
    full_name: ctx.owner.fullName,
    login_type: ctx.owner.loginType,
  };
  const workspace: Record<string, Value> = {
    id: ctx.workspace.id,
    name: ctx.workspace.name,
    transition: ctx.workspace.transition,
    start_count: ctx.workspace.transition === "start" ? 1 : 0,
    is_prebuild: ctx.workspace.isPrebuild,
  };
  const own = (o: Readonly<Record<string, Value>>, key: string | undefined) =>
    key !== undefined && Object.hasOwn(o, key) ? o[key] : undefined;
  return (path) => {
    const [root, a, b, c, ...rest] = path;
    if (root === "var" && b === undefined) return own(ctx.variables, a);
    if (root !== "data" || rest.length > 0) return undefined;
    if (a === "coder_parameter" && c === "value") return own(ctx.parameters, b);
    if (a === "coder_workspace_owner" && b !== undefined) return own(owner, c);
    if (a === "coder_workspace" && b !== undefined) return own(workspace, c);
    return undefined;
  };
}

/** Evaluates every tag expression; null values set no tag. Throws WorkspaceTagError for the first that fails. */
export function evaluateWorkspaceTags(
  expressions: Readonly<Record<string, string>>,
  ctx: WorkspaceTagContext,
): Record<string, string> {
  const lookup = lookupIn(ctx);
  const out: Record<string, string> = {};
  for (const [key, source] of Object.entries(expressions)) {
    try {
      const value = evaluateExpression(source, lookup);
      if (value !== null) out[key] = asString(value);
    } catch (err) {
      if (err instanceof ExpressionError) throw new WorkspaceTagError(key, `${err.message} (in ${source})`);
      throw err;
    }
  }
  return out;
}
