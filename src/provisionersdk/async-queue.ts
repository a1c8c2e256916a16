// An unbounded async queue: producers push, one consumer iterates. Used for the request stream a client
// writes and the response stream a session produces. Ending it (or failing it) releases a waiting consumer.

export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private finished = false;
  private failure: { error: unknown } | undefined;

  /** Adds an item; ignored once the queue has ended. Returns whether it was accepted. */
  push(item: T): boolean {
    if (this.finished) return false;
    this.items.push(item);
    this.wake();
    return true;
  }

  /** No more items; the consumer sees the end after the buffered items. */
  end(): void {
    this.finished = true;
    this.wake();
  }

  /** Ends the queue with an error the consumer sees after the buffered items. */
  fail(error: unknown): void {
    if (this.finished) return;
    this.failure = { error };
    this.end();
  }

  get ended(): boolean {
    return this.finished;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.finished) {
        if (this.failure !== undefined) throw this.failure.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }
}
