// The acquire path's memory of daemon registrations it wrote: an unchanged daemon's row is rewritten at most
// every refreshMs; a changed identity, a clock that went back, or a forgotten name is written again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RecentRegistrations } from "../../../src/server/daemon-api/recent-registrations.js";

const echo = { name: "d1", identityKey: '[["echo"],{},"1.0"]' };

describe("RecentRegistrations", () => {
  test("GIVEN a registration written at t THEN it is fresh until t + refreshMs, then written again", () => {
    const recent = new RecentRegistrations(10_000);
    assert.equal(recent.fresh(echo, 0), undefined, "never written");
    recent.remember(echo, "id-1", 1_000);
    assert.equal(recent.fresh(echo, 1_000), "id-1");
    assert.equal(recent.fresh(echo, 10_999), "id-1");
    assert.equal(recent.fresh(echo, 11_000), undefined, "refreshMs later: time to refresh last_seen_at");
    assert.equal(recent.fresh(echo, 999), undefined, "a clock that went back writes again");
  });

  test("GIVEN a daemon that changed its types, tags or version THEN it is written at once", () => {
    const recent = new RecentRegistrations(10_000);
    recent.remember(echo, "id-1", 0);
    assert.equal(recent.fresh({ ...echo, identityKey: '[["echo","terraform"],{},"1.0"]' }, 1), undefined);
    assert.equal(recent.fresh({ ...echo, name: "d2" }, 1), undefined);
  });

  test("GIVEN more names than it keeps THEN the oldest is forgotten first", () => {
    const recent = new RecentRegistrations(10_000, 2);
    recent.remember({ ...echo, name: "a" }, "A", 0);
    recent.remember({ ...echo, name: "b" }, "B", 0);
    recent.remember({ ...echo, name: "a" }, "A", 1); // written again: now the newest
    recent.remember({ ...echo, name: "c" }, "C", 2);
    assert.equal(recent.fresh({ ...echo, name: "b" }, 3), undefined);
    assert.equal(recent.fresh({ ...echo, name: "a" }, 3), "A");
    assert.equal(recent.fresh({ ...echo, name: "c" }, 3), "C");
  });
});
