// Which daemons this server process registered lately, and as what: an acquire long poll (one per job) need
// not rewrite its daemon's provisioner_daemons row every time. last_seen_at is read against a 90 s window
// (prebuilds/status.ts) and a polling daemon asks at most 30 s apart, so refreshing it at most every
// `refreshMs` of the server's clock changes no decision, and a daemon that changes its types, tags or version
// is written at once. Pure bookkeeping: the caller does the upsert.

export interface DaemonRegistration {
  name: string;
  /** Everything else the row records about the daemon, as one comparable string. */
  identityKey: string;
}

export class RecentRegistrations {
  readonly #seen = new Map<string, { identityKey: string; daemonId: string; atMs: number }>();

  constructor(
    private readonly refreshMs: number,
    /** Bounds the memory a stream of one-off daemon names can take (the oldest entry goes first). */
    private readonly max = 10_000,
  ) {}

  /** The daemon's id when it was registered as `registration` less than `refreshMs` before `nowMs`. */
  fresh(registration: DaemonRegistration, nowMs: number): string | undefined {
    const seen = this.#seen.get(registration.name);
    if (!seen || seen.identityKey !== registration.identityKey) return undefined;
    const age = nowMs - seen.atMs;
    return age >= 0 && age < this.refreshMs ? seen.daemonId : undefined;
  }

  /** Notes a registration written at `nowMs`. */
  remember(registration: DaemonRegistration, daemonId: string, nowMs: number): void {
    this.#seen.delete(registration.name);
    this.#seen.set(registration.name, { identityKey: registration.identityKey, daemonId, atMs: nowMs });
    if (this.#seen.size > this.max) this.#seen.delete(this.#seen.keys().next().value as string);
  }
}
