// `prewarm completion bash|zsh|fish`: completion scripts generated from the program's own command tree, so
// they always list exactly the commands, aliases and options this version has. The scripts are static (no
// call back into prewarm on each Tab): they walk the words typed so far through the tree — a word that names
// a subcommand of the current node descends, anything else (options, their values, arguments) is skipped —
// and offer the node's subcommands and options.
import type { Command } from "commander";
import { CliError } from "./errors.js";

interface Node {
  /** "" for the program, "templates push" for a subcommand (aliases give their own paths). */
  path: string;
  children: string[];
  options: string[];
}

/** Every command path of the tree with its subcommand names (aliases included) and option flags. */
function commandNodes(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Command, paths: string[]) => {
    const subcommands = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const children = subcommands.flatMap((c) => [c.name(), ...c.aliases()]);
    const options = [
      ...cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f))),
      "--help",
    ];
    for (const path of paths) out.push({ path, children, options });
    for (const sub of subcommands) {
      const names = [sub.name(), ...sub.aliases()];
      visit(
        sub,
        paths.flatMap((p) => names.map((n) => (p ? `${p} ${n}` : n))),
      );
    }
  };
  visit(program, [""]);
  return out;
}

const shells = ["bash", "zsh", "fish"] as const;

function completionScript(program: Command, shell: string): string {
  const nodes = commandNodes(program);
  switch (shell) {
    case "bash":
      return bashScript(nodes);
    case "zsh":
      return zshScript(nodes);
    case "fish":
      return fishScript(nodes);
    default:
      throw new CliError(`completion: unknown shell "${shell}" (use ${shells.join(", ")})`, 2);
  }
}

export function printCompletion(program: Command, shell: string): void {
  process.stdout.write(completionScript(program, shell));
}

// Command names and flags are [a-z0-9-] words, so they need no quoting inside the generated strings.
function caseFunction(name: string, nodes: Node[], pick: (n: Node) => string[]): string {
  const arms = nodes.map((n) => `    "${n.path}") echo "${pick(n).join(" ")}" ;;`).join("\n");
  return `${name}() {\n  case "$1" in\n${arms}\n  esac\n}\n`;
}

function bashScript(nodes: Node[]): string {
  return `# prewarm completion for bash: source <(prewarm completion bash)
${caseFunction("_prewarm_children", nodes, (n) => n.children)}
${caseFunction("_prewarm_options", nodes, (n) => n.options)}
_prewarm() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" node="" word child i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    for child in $(_prewarm_children "$node"); do
      if [[ "$child" == "$word" ]]; then
        node="\${node:+$node }$word"
        break
      fi
    done
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_prewarm_options "$node")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_prewarm_children "$node")" -- "$cur"))
  fi
}
complete -o default -F _prewarm prewarm
`;
}

function zshScript(nodes: Node[]): string {
  // The walk keeps its place in `node`: zsh ties a variable named `path` to $PATH.
  return `# prewarm completion for zsh (after compinit): source <(prewarm completion zsh)
${caseFunction("_prewarm_children", nodes, (n) => n.children)}
${caseFunction("_prewarm_options", nodes, (n) => n.options)}
_prewarm() {
  local node="" word
  local -a children
  for word in "\${(@)words[2,CURRENT-1]}"; do
    children=(\${=$(_prewarm_children "$node")})
    if (( \${children[(Ie)$word]} )); then
      node="\${node:+$node }$word"
    fi
  done
  if [[ "$PREFIX" == -* ]]; then
    compadd -- \${=$(_prewarm_options "$node")}
  else
    compadd -- \${=$(_prewarm_children "$node")}
  fi
}
compdef _prewarm prewarm
`;
}

function fishScript(nodes: Node[]): string {
  const arms = (pick: (n: Node) => string[]) =>
    nodes.map((n) => `        case '${n.path}'\n            echo ${pick(n).join(" ")}`).join("\n");
  return `# prewarm completion for fish: prewarm completion fish | source
function __prewarm_node
    set -l node ''
    for word in (commandline -opc)[2..-1]
        if contains -- $word (string split ' ' (__prewarm_children "$node"))
            set node (string trim -- "$node $word")
        end
    end
    echo $node
end
function __prewarm_children
    switch $argv[1]
${arms((n) => n.children)}
    end
end
function __prewarm_options
    switch $argv[1]
${arms((n) => n.options)}
    end
end
function __prewarm_complete
    set -l node (__prewarm_node)
    if string match -q -- '-*' (commandline -ct)
        string split ' ' (__prewarm_options "$node")
    else
        string split ' ' (__prewarm_children "$node")
    end
end
complete -c prewarm -f -a '(__prewarm_complete)'
`;
}
