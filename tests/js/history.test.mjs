// The dashboard's chart series, from a small history shaped as webapp.dashboard sends it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { historySeries, timeAxis } from "../../static/webapp/history.js";

const hour = {
  window: "hour", kind: "", step_s: 60, start: 6000, times: [6000, 6060, 6120],
  finished: { detect: [0, 2, 1], stylize: [1, 0, 0] },
  wait_p50: [null, 4, 5], wait_p95: [null, 9, 5],
  run_p50: [3, null, 1.5], run_p95: [3, null, 2],
  queue_depth: { gpu: [0, 3, 1], default: [0, 0, 0] },
};

test("an hour's buckets sit at minutes before now, counts as jobs per minute", () => {
  const s = historySeries(hour, 6180);
  assert.deepEqual(s.finished.map((f) => f.name), ["detect", "stylize"]);
  assert.deepEqual(s.finished[0].points, [[-3, 0], [-2, 2], [-1, 1]]);
  assert.deepEqual(s.depth[0], { name: "gpu", points: [[-3, 0], [-2, 3], [-1, 1]] });
  assert.equal(timeAxis(hour, 6180).label, "minutes ago");
});

test("empty buckets are gaps (NaN), p95 is dashed", () => {
  const s = historySeries(hour, 6180);
  assert.ok(Number.isNaN(s.wait[0].points[0][1]));
  assert.deepEqual(s.wait[1].points.slice(1), [[-2, 9], [-1, 5]]);
  assert.equal(s.wait[1].dashed, true);
  assert.ok(Number.isNaN(s.run[0].points[1][1]));
});

test("a day's 15-minute buckets: hours before now, count / 15 per minute", () => {
  const day = { ...hour, window: "day", step_s: 900, times: [0, 900, 1800], finished: { train: [15, 30, 0] } };
  const s = historySeries(day, 3600);
  assert.deepEqual(s.finished[0].points, [[-1, 1], [-0.75, 2], [-0.5, 0]]);
  assert.equal(timeAxis(day, 3600).label, "hours ago");
});

test("no job finished: one flat series, so the chart says so", () => {
  const s = historySeries({ ...hour, finished: {} }, 6180);
  assert.equal(s.finished[0].name, "none finished");
});

test("the time axis counts back without a minus sign: '40' minutes ago, then 'now'", () => {
  const { tick } = timeAxis(hour, 6180);
  assert.equal(tick(-40), "40");
  assert.equal(tick(0), "now");
  assert.equal(timeAxis({ ...hour, window: "day" }, 6180).tick(-6), "6");
});
