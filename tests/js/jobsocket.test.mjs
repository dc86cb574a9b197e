// The live connections' decisions: which job events a page keeps, when it asks for a
// fresh snapshot, and when it reconnects (docs/websocket-protocol.md, "Delivery rules").
import assert from "node:assert/strict";
import { test } from "node:test";

import { answerIsStale, shouldAskAgain, versionStep } from "../../static/webapp/jobsocket.js";
import { isRefusal, LiveSocket, reconnectDelay } from "../../static/webapp/livesocket.js";

const progress = (version) => ({ type: "progress", version, progress: version / 10 });
const status = (version) => ({ type: "status", version, job: { version, status: "running" } });

test("a snapshot is taken whatever the page had", () => {
  assert.deepEqual(versionStep(7, { type: "snapshot", version: 3, job: {} }), { use: true, resync: false, version: 3 });
  assert.deepEqual(versionStep(-1, { type: "snapshot", version: 0, job: {} }), { use: true, resync: false, version: 0 });
});

test("the next version is used; an old or repeated one is dropped", () => {
  assert.deepEqual(versionStep(4, progress(5)), { use: true, resync: false, version: 5 });
  assert.deepEqual(versionStep(5, progress(5)), { use: false, resync: false, version: 5 });
  assert.deepEqual(versionStep(5, progress(3)), { use: false, resync: false, version: 5 });
  assert.deepEqual(versionStep(5, status(4)), { use: false, resync: false, version: 5 });
});

test("a gap asks for a snapshot, unless the event carries the whole job", () => {
  assert.deepEqual(versionStep(4, progress(7)), { use: true, resync: true, version: 7 });
  assert.deepEqual(versionStep(4, status(7)), { use: true, resync: false, version: 7 });
});

test("a message without a version is passed on and changes nothing", () => {
  assert.deepEqual(versionStep(4, { type: "dashboard" }), { use: true, resync: false, version: 4 });
});

// The server writes versions 1..20; the network loses some and delivers some late.
// Whatever happens, the page ends on the last version, never draws an older state after a
// newer one, and asks for a snapshot exactly when it saw a gap.
test("a lossy, reordered stream: never backwards, a resync for each gap", () => {
  const sent = Array.from({ length: 20 }, (_, i) => (i % 5 === 4 ? status(i + 1) : progress(i + 1)));
  const delivered = sent.filter((m) => ![3, 4, 9, 15].includes(m.version)); // lost
  [delivered[6], delivered[7]] = [delivered[7], delivered[6]]; // two swapped
  let have = 0, drawn = 0;
  const resyncs = [];
  for (const msg of delivered) {
    const step = versionStep(have, msg);
    if (step.resync) resyncs.push(msg.version);
    if (step.use) {
      assert.ok(msg.version > drawn, `drew ${msg.version} after ${drawn}`);
      drawn = msg.version;
    }
    have = step.version;
  }
  assert.equal(have, 20);
  // 3 and 4 lost: 5 is a status (the whole job), no resync; 9 lost and 10 late: 11 asks;
  // 15 lost: 16 asks. The late 10 is dropped.
  assert.deepEqual(resyncs, [11, 16]);
});

test("a quiet page asks again only while its job is active", () => {
  assert.equal(shouldAskAgain({ now: 20000, lastHeard: 5000, active: true }), true);
  assert.equal(shouldAskAgain({ now: 20000, lastHeard: 15000, active: true }), false);
  assert.equal(shouldAskAgain({ now: 20000, lastHeard: 5000, active: false }), false);
});

test("reconnect delays double from 0.5 s up to 10 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 10].map((n) => reconnectDelay(n)), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test("4400-4499 close codes are refusals; network and server failures are not", () => {
  for (const code of [4401, 4403, 4429]) assert.equal(isRefusal(code), true, code);
  for (const code of [1000, 1001, 1006, 1011, 4000, 4500]) assert.equal(isRefusal(code), false, code);
});

// A stand-in for the browser's WebSocket, recording what a LiveSocket opens and sends.
class FakeWebSocket {
  static OPEN = 1;
  static opened = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; FakeWebSocket.opened.push(this); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() {}
  serverOpens() { this.readyState = 1; this.onopen(); }
  serverCloses(code) { this.readyState = 3; this.onclose({ code }); }
}

test("LiveSocket reconnects with back-off, and stops for good on a refusal", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.WebSocket = FakeWebSocket;
  globalThis.location = { protocol: "https:", host: "studio.example" };
  FakeWebSocket.opened = [];
  const states = [];
  class Resyncing extends LiveSocket { opened() { this.send({ type: "resync" }); } }
  new Resyncing("/ws/my-jobs/", { onState: (s, why) => states.push(why ? `${s}: ${why}` : s) }).start();

  const first = FakeWebSocket.opened[0];
  assert.equal(first.url, "wss://studio.example/ws/my-jobs/");
  first.serverOpens();
  assert.deepEqual(first.sent, [{ type: "resync" }]); // asks on every connection
  first.serverCloses(1006);
  t.mock.timers.tick(499);
  assert.equal(FakeWebSocket.opened.length, 1);
  t.mock.timers.tick(1);
  assert.equal(FakeWebSocket.opened.length, 2); // after 0.5 s
  FakeWebSocket.opened[1].serverCloses(1006);
  t.mock.timers.tick(999);
  assert.equal(FakeWebSocket.opened.length, 2);
  t.mock.timers.tick(1);
  assert.equal(FakeWebSocket.opened.length, 3); // then after 1 s
  FakeWebSocket.opened[2].serverOpens();
  FakeWebSocket.opened[2].serverCloses(4401);
  t.mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.opened.length, 3); // refused: no more attempts
  assert.deepEqual(states, ["live", "reconnecting", "reconnecting", "live", "denied: Log in to see this live."]);
});

test("an action's answer older than what the socket brought is not drawn over it", () => {
  // Resume: the request's answer says "queued" at version 7, but the worker took the run
  // and the socket already gave the page "running" at version 8.
  assert.equal(answerIsStale({ status: "queued", version: 7 }, { status: "running", version: 8 }), true);
  assert.equal(answerIsStale({ status: "queued", version: 8 }, { status: "queued", version: 8 }), false);
  assert.equal(answerIsStale({ status: "running", version: 9 }, { status: "queued", version: 8 }), false);
  assert.equal(answerIsStale({ status: "queued" }, { status: "running", version: 8 }), false);
});
