// Durations and numbers as the pages write them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  formatBytes, formatCompact, formatCount, formatNumber, formatPercent, formatSeconds, jobMeta,
} from "../../static/webapp/format.js";

test("formatSeconds writes what the `seconds` template filter writes", () => {
  const cases = JSON.parse(readFileSync(new URL("../fixtures/seconds.json", import.meta.url)));
  assert.ok(cases.some((c) => c.seconds === 2.5)); // a half: Python rounds it to even
  for (const c of cases) assert.equal(formatSeconds(c.seconds), c.text, `${c.seconds} s`);
});

test("formatSeconds of something that is not a duration", () => {
  assert.equal(formatSeconds(undefined), "–");
  assert.equal(formatSeconds(NaN), "–");
});

test("counts, compact counts, percentages, significant digits, bytes", () => {
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatCount(null), "–");
  assert.equal(formatCompact(999), "999");
  assert.equal(formatCompact(1234), "1.2 k");
  assert.equal(formatCompact(2_500_000), "2.50 M");
  assert.equal(formatCompact(3e9), "3.00 G");
  assert.equal(formatPercent(0.4567), "45.7%");
  assert.equal(formatPercent(null), "–");
  assert.equal(formatNumber(0.000123456), "0.0001235");
  assert.equal(formatNumber(2.30001, 3), "2.3");
  assert.equal(formatNumber(Infinity), "–");
  assert.equal(formatBytes(10), "1 KB");
  assert.equal(formatBytes(2048), "2 KB");
  assert.equal(formatBytes(3 * 2 ** 20), "3.0 MB");
});

test("jobMeta: a resumed run waited from its last queueing, its pause is not waiting", () => {
  const resumed = {
    status: "succeeded", worker: "w1", attempts: 1,
    created_at: "2026-01-01T10:00:00Z", // paused for an hour in between
    queued_at: "2026-01-01T11:00:00Z", started_at: "2026-01-01T11:00:04Z",
    finished_at: "2026-01-01T11:00:34Z",
  };
  const parts = jobMeta(resumed);
  assert.ok(parts.includes("waited 4 s"), parts.join(" · "));
  assert.ok(parts.includes("ran 30 s"), parts.join(" · "));
  // a snapshot from before queued_at was sent: since creation, as before
  const old = { ...resumed, queued_at: undefined, created_at: "2026-01-01T11:00:00Z" };
  assert.ok(jobMeta(old).includes("waited 4 s"));
});
