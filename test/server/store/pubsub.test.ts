import assert from "node:assert/strict";
import { describe } from "node:test";
import { channels, type PubSub, PubSubError } from "../../../src/server/store/pubsub.js";
import { openStore } from "../../../src/server/store/store.js";
import { forEachDialect } from "../../support/db.js";

/** Resolves with the next `count` payloads on `channel`, or rejects after `ms` (a bound, not an assertion). */
function collect(pubsub: PubSub, channel: string, count: number, ms = 5_000) {
  const payloads: string[] = [];
  let unsubscribe: (() => void) | undefined;
  const done = new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`timed out waiting for ${count} messages on ${channel}; got ${payloads.length}`)),
      ms,
    );
    const sub = pubsub.subscribe(channel, (payload) => {
      payloads.push(payload);
      if (payloads.length === count) {
        clearTimeout(timer);
        resolve(payloads);
      }
    });
    unsubscribe = sub;
  }).finally(() => unsubscribe?.());
  return { done, ready: (unsubscribe as unknown as { ready: Promise<void> }).ready };
}

describe("pubsub", () => {
  forEachDialect("subscribers receive what is published on their channel, in order", async ({ store }) => {
    // GIVEN subscribers on two channels
    const logs = collect(store.pubsub, channels.jobLogs("job-1"), 2);
    const other = collect(store.pubsub, channels.jobLogs("job-2"), 1);
    await Promise.all([logs.ready, other.ready]);

    // WHEN messages are published on both
    await store.pubsub.publish(channels.jobLogs("job-1"), '{"afterId":1}');
    await store.pubsub.publish(channels.jobLogs("job-2"), "other");
    await store.pubsub.publish(channels.jobLogs("job-1"), '{"endOfLogs":true}');

    // THEN each subscriber got exactly its channel's messages, in publish order
    assert.deepEqual(await logs.done, ['{"afterId":1}', '{"endOfLogs":true}']);
    assert.deepEqual(await other.done, ["other"]);
  });

  forEachDialect("an unsubscribed listener receives nothing more", async ({ store }) => {
    // GIVEN a listener and a witness on the same channel, both having received "first"
    const received: string[] = [];
    const sub = store.pubsub.subscribe(channels.reconcile, (p) => received.push(p));
    const first = collect(store.pubsub, channels.reconcile, 1);
    await Promise.all([sub.ready, first.ready]);
    await store.pubsub.publish(channels.reconcile, "first");
    await first.done;

    // WHEN the listener unsubscribes and another message is published
    sub();
    const second = collect(store.pubsub, channels.reconcile, 1);
    await second.ready;
    await store.pubsub.publish(channels.reconcile, "second");
    await second.done; // delivery is in order per channel: had the listener still been there, it would have it now

    // THEN the listener saw only the first message
    assert.deepEqual(received, ["first"]);
  });

  forEachDialect("oversized payloads and channel names are refused with a clear error", async ({ store }) => {
    await assert.rejects(store.pubsub.publish(channels.reconcile, "x".repeat(8_000)), PubSubError);
    assert.throws(() => store.pubsub.subscribe("c".repeat(64), () => {}), PubSubError);
  });

  forEachDialect(
    "a second replica hears what the first publishes (PostgreSQL) ",
    async ({ store, dialect, location }) => {
      if (dialect === "sqlite") return; // SQLite is single-process by design: nothing to share
      const replica = await openStore(location);
      try {
        const heard = collect(replica.pubsub, channels.jobPosted, 1);
        await heard.ready;
        await store.pubsub.publish(channels.jobPosted, '{"provisioner":"echo"}');
        assert.deepEqual(await heard.done, ['{"provisioner":"echo"}']);
      } finally {
        await replica.close();
      }
    },
  );
});
