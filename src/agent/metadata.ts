// Collects the template's metadata values (`coder_agent.metadata` blocks): each script runs right away, then
// `intervalSeconds` after its previous run finished (runs of one key never overlap; 0 runs it once).
import type { AgentMetadataDescriptionT, AgentMetadataResultT } from "../contract/agent.js";
import { describeFailure, runShell } from "./scripts.js";

/** The most output kept as a value, as in Coder. */
export const maxMetadataValueBytes = 10 * 1024;

/** A metadata script's own timeout, or its interval (at least 1 s) when it sets none. */
export function metadataTimeoutSeconds(item: AgentMetadataDescriptionT): number {
  if (item.timeoutSeconds > 0) return item.timeoutSeconds;
  return Math.max(1, item.intervalSeconds);
}

/** Trimmed output, cut to `maxMetadataValueBytes` (on a character boundary). */
export function metadataValue(output: Buffer): string {
  const text = output
    .subarray(0, maxMetadataValueBytes)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
  return text.trim();
}

export interface MetadataOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  report: (result: AgentMetadataResultT) => void;
}

export class MetadataCollector {
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    items: AgentMetadataDescriptionT[],
    private readonly options: MetadataOptions,
  ) {
    for (const item of items) void this.collect(item);
  }

  stop(): void {
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async collect(item: AgentMetadataDescriptionT): Promise<void> {
    if (this.abort.signal.aborted) return;
    const chunks: Buffer[] = [];
    let size = 0;
    const timeout = metadataTimeoutSeconds(item);
    const exit = await runShell(item.script, {
      cwd: this.options.cwd,
      env: this.options.env,
      timeoutMs: timeout * 1_000,
      signal: this.abort.signal,
      onData: (chunk) => {
        if (size >= maxMetadataValueBytes) return;
        chunks.push(chunk);
        size += chunk.length;
      },
    });
    if (this.abort.signal.aborted) return;
    this.options.report({
      key: item.key,
      value: metadataValue(Buffer.concat(chunks)),
      error: describeFailure(exit, timeout) ?? "",
      collectedAt: new Date().toISOString(),
    });
    if (item.intervalSeconds > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.collect(item);
      }, item.intervalSeconds * 1_000);
      this.timers.add(timer);
    }
  }
}
