// The shell bootstrap that starts prewarm's agent on a workspace host, delivered the way Coder delivers its
// own: the terraform provisioner passes `CODER_AGENT_SCRIPT_<os>_<arch>` variables (agentScriptEnv) to
// terraform; the `coder` provider copies the one matching a `coder_agent`'s os/arch into its `init_script`,
// replacing `${ACCESS_URL}` with the provider URL's origin plus "/" and `${AUTH_TYPE}` with the agent's
// `auth`. So an unchanged Coder template that runs `coder_agent.main.init_script` with `CODER_AGENT_TOKEN`
// set starts prewarm's agent. `${ARCH}` is replaced here, as Coder's provisioner does.
//
// The script downloads the agent bundle (GET <access url>api/v1/agent/bundle.js, no auth) with curl, wget or
// busybox wget, checks for Node.js 20+, and execs `node prewarm-agent.js agent` with CODER_AGENT_URL and
// PREWARM_AGENT_URL set, and PREWARM_AGENT_TOKEN_WAIT (default 10m: a template may start the agent while its
// build is still applying, before the server knows the token); the token comes from CODER_AGENT_TOKEN or PREWARM_AGENT_TOKEN in its environment.
// If the placeholders were not substituted (the script run by hand), the shell expands `${ACCESS_URL}` as an
// ordinary variable, and the URL falls back to $PREWARM_AGENT_URL, $CODER_AGENT_URL, then the server URL
// baked in by agentScriptEnv.
import { agentRoutes } from "../contract/agent.js";

export const bootstrapTargets = [
  { os: "linux", arch: "amd64" },
  { os: "linux", arch: "arm64" },
  { os: "linux", arch: "armv7" },
  { os: "darwin", arch: "amd64" },
  { os: "darwin", arch: "arm64" },
] as const;

/** The bundle's path relative to the access URL (which ends in "/"). */
export const bundleRelativePath = agentRoutes.agentBundle.url.replace(/^\//, "");

/** The placeholders of Coder's bootstrap scripts (built with "$" + … so they are not mistaken for templates). */
export const placeholders = {
  accessUrl: "$" + "{ACCESS_URL}",
  authType: "$" + "{AUTH_TYPE}",
  arch: "$" + "{ARCH}",
} as const;

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The bootstrap script for one platform, with `${ACCESS_URL}` and `${AUTH_TYPE}` left for the provider. */
export function bootstrapScript(os: string, arch: string, serverUrl: string): string {
  const script = `#!/usr/bin/env sh
# prewarm agent bootstrap (${os}/\${ARCH}): downloads the agent from the prewarm server and runs it with Node.js.
set -e
# The coder provider replaces these two placeholders; unreplaced, they expand as (usually unset) variables.
PREWARM_BOOTSTRAP_URL="\${ACCESS_URL}"
PREWARM_BOOTSTRAP_AUTH="\${AUTH_TYPE}"
set -u
PREWARM_BOOTSTRAP_FALLBACK=${shellQuote(serverUrl)}
if [ -z "$PREWARM_BOOTSTRAP_URL" ]; then
  PREWARM_BOOTSTRAP_URL="\${PREWARM_AGENT_URL:-\${CODER_AGENT_URL:-$PREWARM_BOOTSTRAP_FALLBACK}}"
fi
case "$PREWARM_BOOTSTRAP_URL" in */) ;; *) PREWARM_BOOTSTRAP_URL="$PREWARM_BOOTSTRAP_URL/" ;; esac
if [ -n "$PREWARM_BOOTSTRAP_AUTH" ] && [ "$PREWARM_BOOTSTRAP_AUTH" != "token" ]; then
  echo "prewarm bootstrap: error: agent auth \\"$PREWARM_BOOTSTRAP_AUTH\\" is not supported; use auth = \\"token\\"" >&2
  exit 1
fi
if [ -z "\${PREWARM_AGENT_TOKEN:-}" ] && [ -z "\${CODER_AGENT_TOKEN:-}" ]; then
  echo "prewarm bootstrap: error: no agent token: set CODER_AGENT_TOKEN (coder_agent.<name>.token) or PREWARM_AGENT_TOKEN" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo "prewarm bootstrap: error: Node.js 20 or newer is required to run the prewarm agent, and \\"node\\" is not on PATH" >&2
  echo "prewarm bootstrap: install Node.js on this host (or use an image that has it) and start the workspace again" >&2
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "prewarm bootstrap: error: Node.js 20 or newer is required, found $(node --version)" >&2
  exit 1
fi
PREWARM_BOOTSTRAP_DIR=$(mktemp -d "\${TMPDIR:-/tmp}/prewarm-agent.XXXXXX")
PREWARM_BOOTSTRAP_FILE="$PREWARM_BOOTSTRAP_DIR/prewarm-agent.js"
PREWARM_BOOTSTRAP_BUNDLE="\${PREWARM_BOOTSTRAP_URL}${bundleRelativePath}"
attempt=1
while :; do
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL "$PREWARM_BOOTSTRAP_BUNDLE" -o "$PREWARM_BOOTSTRAP_FILE" && break
  elif command -v wget >/dev/null 2>&1; then
    wget -q "$PREWARM_BOOTSTRAP_BUNDLE" -O "$PREWARM_BOOTSTRAP_FILE" && break
  elif command -v busybox >/dev/null 2>&1; then
    busybox wget -q "$PREWARM_BOOTSTRAP_BUNDLE" -O "$PREWARM_BOOTSTRAP_FILE" && break
  else
    echo "prewarm bootstrap: error: no download tool found: install curl or wget" >&2
    exit 1
  fi
  if [ "$attempt" -ge "\${PREWARM_BOOTSTRAP_ATTEMPTS:-30}" ]; then
    echo "prewarm bootstrap: error: could not download $PREWARM_BOOTSTRAP_BUNDLE" >&2
    exit 1
  fi
  echo "prewarm bootstrap: download of $PREWARM_BOOTSTRAP_BUNDLE failed (attempt $attempt), retrying" >&2
  attempt=$((attempt + 1))
  sleep 2
done
export PREWARM_AGENT_URL="$PREWARM_BOOTSTRAP_URL"
# Started by a template, the agent may run before its build has finished: wait for the server to know its token.
export PREWARM_AGENT_TOKEN_WAIT="\${PREWARM_AGENT_TOKEN_WAIT:-10m}"
export CODER_AGENT_URL="$PREWARM_BOOTSTRAP_URL"
cd "$PREWARM_BOOTSTRAP_DIR"
exec node "$PREWARM_BOOTSTRAP_FILE" agent
`;
  return script.replaceAll(placeholders.arch, arch);
}

/**
 * `CODER_AGENT_SCRIPT_<os>_<arch>` → bootstrap script, for the terraform provisioner's environment.
 * `serverUrl` is only the fallback used when the provider did not substitute `${ACCESS_URL}`.
 */
export function agentScriptEnv(serverUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { os, arch } of bootstrapTargets) {
    env[`CODER_AGENT_SCRIPT_${os}_${arch}`] = bootstrapScript(os, arch, serverUrl);
  }
  return env;
}

/**
 * What the `coder` provider does to a `CODER_AGENT_SCRIPT_*` value to make `init_script`: `${ACCESS_URL}`
 * becomes the URL's origin plus "/" (any path is dropped, as Go's `url.Parse("/")` does) and `${AUTH_TYPE}`
 * the agent's auth. The echo provisioner and tests use it to produce the same text the provider would.
 */
export function renderInitScript(script: string, accessUrl: string, authType = "token"): string {
  const origin = new URL("/", accessUrl).toString();
  return script.replaceAll(placeholders.accessUrl, origin).replaceAll(placeholders.authType, authType);
}
