// The plots' axes: where ticks go and what range the curves get.
import assert from "node:assert/strict";
import { test } from "node:test";

import { lineStyle, logTicks, niceTicks, plotLabel, plotRange } from "../../static/webapp/plot.js";

test("ticks step by 1, 2 or 5 times a power of ten, at most n steps over the range", () => {
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(3, 47, 4), [20, 40]);
  assert.deepEqual(niceTicks(-0.3, 0.3, 4), [-0.2, 0, 0.2]);
  assert.deepEqual(niceTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
});

test("ticks never show float noise", () => {
  for (const t of niceTicks(0.1, 0.7, 6)) assert.ok(String(t).length <= 4, String(t));
});

test("log-scale ticks are whole exponents", () => {
  assert.deepEqual(niceTicks(-4, 0, 4), [-4, -3, -2, -1, 0]);
});

test("an empty or flat range still gets a tick", () => {
  assert.deepEqual(niceTicks(5, 5, 4), [5]);
  assert.deepEqual(niceTicks(5, 4, 4), [5]);
});

test("the range covers the finite points and the fixed bounds", () => {
  const series = [{ points: [[1, 0.5], [3, NaN], [4, 0.9]] }, { points: [[2, 0.7]] }];
  assert.deepEqual(plotRange(series), { x0: 1, x1: 4, y0: 0.5, y1: 0.9 });
  assert.deepEqual(plotRange(series, { yMin: 0, yMax: 1 }), { x0: 1, x1: 4, y0: 0, y1: 1 });
});

test("one point, or none, still spans a range", () => {
  assert.deepEqual(plotRange([{ points: [[2, 3]] }]), { x0: 2, x1: 3, y0: 2.5, y1: 3.5 });
  assert.deepEqual(plotRange([]), { x0: 0, x1: 1, y0: 0, y1: 1 });
});

test("a log scale ranges over exponents and ignores zeros' minus infinity", () => {
  const r = plotRange([{ points: [[0, 1e-3], [1, 10]] }], { logY: true });
  assert.deepEqual([r.y0, r.y1], [-3, 1]);
});

test("a log axis is labelled in powers of ten, or 1-2-5 values when it spans less than two", () => {
  assert.deepEqual(logTicks(-3.2, 0.1).map((t) => t.label), ["1e-3", "1e-2", "1e-1", "1e0"]);
  // gradient norms between about 0.3 and 3: no fractional exponents like "1e-0.5"
  const narrow = logTicks(-0.5, 0.5);
  assert.deepEqual(narrow.map((t) => t.label), ["0.5", "1e0", "2"]);
  assert.ok(Math.abs(narrow[0].at - Math.log10(0.5)) < 1e-12);
});

test("fixed x bounds hold a window open; a flat series at yMin spans up from it", () => {
  assert.deepEqual(plotRange([{ points: [[-2, 0], [-1, 0]] }], { xMin: -60, xMax: 0, yMin: 0 }),
    { x0: -60, x1: 0, y0: 0, y1: 1 });
  assert.deepEqual(plotRange([], { xMin: -24, xMax: 0 }), { x0: -24, x1: 0, y0: 0, y1: 1 });
});

test("a plot tells screen readers its axes and lines", () => {
  assert.equal(plotLabel({ xLabel: "epoch", yLabel: "loss" }, [{ name: "train" }, { name: "validation" }]),
    "loss by epoch: train, validation");
  assert.equal(plotLabel({}, []), "value: no data yet");
});

test("a series is solid, dashed or dotted", () => {
  assert.deepEqual([{}, { dashed: true }, { dash: "dotted" }, { dash: "wavy" }].map(lineStyle),
    ["solid", "dashed", "dotted", "solid"]);
});
