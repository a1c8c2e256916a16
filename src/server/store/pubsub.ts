// Pub/sub for "something changed" signals: job posted, new log lines, reconciler triggers.
// SQLite: an in-process emitter (one server process per database file). PostgreSQL: LISTEN/NOTIFY on one
// dedicated connection per store, so every replica hears every publish.
//
// Delivery is best effort on both: a message published while a PostgreSQL listener is reconnecting is lost,
// so consumers must also poll (at a slower pace) or re-read state after `onReconnect`. Payloads are small
// strings (PostgreSQL caps NOTIFY payloads below 8000 bytes); send ids, not data.
import { EventEmitter } from "node:events";
import pg from "pg";

export type Listener = (payload: string) => void;

/** Call to unsubscribe; `ready` resolves once the subscription is active (LISTEN acknowledged). */
export type Subscription = (() => void) & { ready: Promise<void> };

export interface PubSub {
  publish(channel: string, payload: string): Promise<void>;
  subscribe(channel: string, listener: Listener): Subscription;
  close(): Promise<void>;
}

/**
 * Publishes a hint and swallows a failure: pub/sub is never the source of truth, so a failed publish must not
 * fail a change that already committed (subscribers also poll or re-read; see the header). The one place that
 * decides this.
 */
export async function publishQuietly(pubsub: PubSub, channel: string, payload: string): Promise<void> {
  try {
    await pubsub.publish(channel, payload);
  } catch {
    // A lost hint only delays the subscribers.
  }
}

export class PubSubError extends Error {
  override name = "PubSubError";
}

/** Well-known channels. Names stay ≤ 63 bytes (PostgreSQL identifier limit). */
export const channels = {
  /** A job was enqueued; payload: JSON { provisioner, tags }. */
  jobPosted: "prewarm_job_posted",
  /** New log lines or the end of logs for one job; payload: JSON { afterId } or { endOfLogs: true }. */
  jobLogs: (jobId: string) => `prewarm_job_logs_${jobId}`,
  /** A job reached a final state (completed, failed, canceled, reaped); payload: the job id. */
  jobFinished: "prewarm_job_finished",
  /** Something the reconciler should react to soon (claim, finished prebuild build, new active version). */
  reconcile: "prewarm_reconcile",
  /** A workspace changed (build state, agent lifecycle); payload: workspace id. */
  workspace: "prewarm_workspace",
} as const;

const MAX_CHANNEL_BYTES = 63;
const MAX_PAYLOAD_BYTES = 7999;

function checkChannel(channel: string): void {
  if (channel === "" || Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
    throw new PubSubError(`pubsub: channel name must be 1-${MAX_CHANNEL_BYTES} bytes: "${channel}"`);
  }
}

function checkPayload(channel: string, payload: string): void {
  const size = Buffer.byteLength(payload);
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PubSubError(`pubsub: payload for ${channel} is ${size} bytes (max ${MAX_PAYLOAD_BYTES})`);
  }
}

function deliver(listeners: Iterable<Listener>, payload: string): void {
  for (const listener of [...listeners]) {
    try {
      listener(payload);
    } catch {
      // A failing subscriber must not stop delivery to the others; it owns its own error handling.
    }
  }
}

/** In-process pub/sub. Delivers asynchronously (like NOTIFY), so a publisher never runs subscriber code. */
export class LocalPubSub implements PubSub {
  readonly #emitter = new EventEmitter();
  #closed = false;

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  async publish(channel: string, payload: string): Promise<void> {
    checkChannel(channel);
    checkPayload(channel, payload);
    if (this.#closed) return;
    const listeners = this.#emitter.listeners(channel) as Listener[];
    if (listeners.length > 0) setImmediate(() => deliver(listeners, payload));
  }

  subscribe(channel: string, listener: Listener): Subscription {
    checkChannel(channel);
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const wrapped: Listener = (payload) => listener(payload);
    this.#emitter.on(channel, wrapped);
    const unsubscribe = () => {
      this.#emitter.off(channel, wrapped);
    };
    return Object.assign(unsubscribe, { ready: Promise.resolve() });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#emitter.removeAllListeners();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface PgPubSubOptions {
  /** Called after the listener connection was re-established (messages in between may have been lost). */
  onReconnect?: () => void;
  /** Called when the listener connection fails (it is retried with backoff). */
  onError?: (err: Error) => void;
}

/** LISTEN/NOTIFY. Publishes through the store's pool; listens on one dedicated client, re-LISTENing after reconnects. */
export class PgPubSub implements PubSub {
  readonly #listeners = new Map<string, Set<Listener>>();
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  /** Serialises LISTEN/UNLISTEN commands on the dedicated client. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #retryMs = 100;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly options: PgPubSubOptions = {},
  ) {}

  async publish(channel: string, payload: string): Promise<void> {
    checkChannel(channel);
    checkPayload(channel, payload);
    await this.pool.query("select pg_notify($1, $2)", [channel, payload]);
  }

  subscribe(channel: string, listener: Listener): Subscription {
    checkChannel(channel);
    let set = this.#listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
    }
    const wrapped: Listener = (payload) => listener(payload);
    set.add(wrapped);
    const ready = first ? this.#command(`listen ${quoteIdent(channel)}`) : this.#queue.then(() => {});
    // The caller may ignore `ready`; its failure is reported through onError, never as an unhandled rejection.
    ready.catch(() => {});
    const unsubscribe = () => {
      const current = this.#listeners.get(channel);
      if (!current?.delete(wrapped) || current.size > 0) return;
      this.#listeners.delete(channel);
      this.#command(`unlisten ${quoteIdent(channel)}`).catch(() => {});
    };
    return Object.assign(unsubscribe, { ready });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#listeners.clear();
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #command(text: string): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) return;
      const client = await this.#connect();
      await client.query(text);
    });
    this.#queue = run.catch((err: Error) => this.options.onError?.(err));
    return run;
  }

  #connect(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client);
    if (!this.#connecting) {
      this.#connecting = (async () => {
        const client = new pg.Client({ connectionString: this.url });
        client.on("notification", (msg) => {
          const set = this.#listeners.get(msg.channel);
          if (set) deliver(set, msg.payload ?? "");
        });
        client.on("error", (err) => this.#lost(client, err));
        client.on("end", () => this.#lost(client, new PubSubError("pubsub: listener connection ended")));
        try {
          await client.connect();
        } catch (err) {
          await client.end().catch(() => {});
          throw err;
        }
        this.#client = client;
        this.#retryMs = 100;
        return client;
      })().finally(() => {
        this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  /** The listener connection died: reconnect with backoff and re-LISTEN every channel. */
  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners("end");
    client.end().catch(() => {});
    if (this.#closed) return;
    this.options.onError?.(err);
    const retry = () => {
      if (this.#closed) return;
      const channelsNow = [...this.#listeners.keys()];
      this.#queue = this.#queue
        .then(async () => {
          const fresh = await this.#connect();
          for (const channel of channelsNow) await fresh.query(`listen ${quoteIdent(channel)}`);
          this.options.onReconnect?.();
        })
        .catch((e: Error) => {
          this.options.onError?.(e);
          this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
          this.#retryTimer = setTimeout(retry, this.#retryMs);
        });
    };
    this.#retryTimer = setTimeout(retry, this.#retryMs);
  }
}
