// The run page's step curves (static/playground/curves.js), from points shaped as the
// worker keeps them: [step, mean loss since the epoch began, mean accuracy since then].
import assert from "node:assert/strict";
import { test } from "node:test";

import { gradientsByLayer, runningCurve, stepsPerEpoch, withEpochEnds } from "../../static/playground/curves.js";

// A run whose loss falls steadily, reported every `every` steps as the trainer does.
function reported(spe, epochs, every, loss = (s) => 2 / (1 + s / 10)) {
  const points = [];
  for (let e = 0; e < epochs; e++) {
    let sum = 0;
    for (let k = 1; k <= spe; k++) {
      const step = e * spe + k;
      sum += loss(step);
      if (k % every === 0 || k === spe || k === 1) points.push([step, sum / k, 1 - sum / k / 2]);
    }
  }
  return points;
}

test("steps per epoch follow the worker: a last batch of one joins the one before", () => {
  assert.equal(stepsPerEpoch(300, 64), 5);
  assert.equal(stepsPerEpoch(257, 64), 4);  // 64 * 4 + 1: the one joins the fourth batch
  assert.equal(stepsPerEpoch(256, 64), 4);
  assert.equal(stepsPerEpoch(1, 1), 1);
  assert.equal(stepsPerEpoch(undefined, 64), 1);
});

test("the running mean does not jump at epoch boundaries and ends each epoch at its mean", () => {
  const spe = 40, raw = reported(spe, 3, 5);
  const curve = runningCurve(raw, spe);
  // the loss falls at every step, so the running mean never rises...
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i][1] <= curve[i - 1][1] + 1e-9, `rose at ${curve[i][0]}`);
  // ...while the means since each epoch's start drop sharply as the next epoch begins
  const drop = (pts, at) => pts[at - 1][1] - pts[at][1];
  const start2 = raw.findIndex((p) => p[0] === spe + 1);
  assert.ok(drop(raw, start2) > 5 * drop(curve.map((p) => [p[0], p[1]]), start2));
  // at each epoch's end: that epoch's mean, at x = the epoch's number
  for (const e of [1, 2, 3]) {
    const end = curve.find((p) => p[0] === e), whole = raw.find((p) => p[0] === e * spe);
    assert.ok(Math.abs(end[1] - whole[1]) < 1e-9 && Math.abs(end[2] - whole[2]) < 1e-9);
  }
  // and it reaches the last epoch's end: x = 3 of 3
  assert.equal(curve.at(-1)[0], 3);
});

test("an empty or one-point curve stays as it is", () => {
  assert.deepEqual(runningCurve([], 10), []);
  assert.deepEqual(runningCurve([[1, 2.3, 0.1]], 10), [[0.1, 2.3, 0.1]]);
});

test("the curve reaches the run's end: each epoch's summary closes it (3 of 3, not 2.2)", () => {
  const spe = 8;
  // reports at steps 1, 9 and 18 only (a fast run, reported once per interval)
  const curve = [[1, 1.4, 0.3], [9, 1.3, 0.4], [18, 1.1, 0.5]];
  const epochs = [1, 2, 3].map((epoch) => ({ epoch, train_loss: 1.5 - epoch / 10, train_accuracy: 0.25 * epoch }));
  const full = runningCurve(withEpochEnds(curve, epochs, spe), spe);
  assert.equal(full.at(-1)[0], 3);
  assert.ok(Math.abs(full.at(-1)[1] - 1.2) < 1e-9);  // epoch 3's own mean
  assert.deepEqual(withEpochEnds(curve, [], spe), curve);
  assert.equal(withEpochEnds([[8, 1, 0.5]], [{ epoch: 1, train_loss: 1, train_accuracy: 0.5 }], spe).length, 1);
});

test("gradientsByLayer: one point per layer with parameters, the geometric mean of its norms", () => {
  const g = {
    names: ["0 conv2d", "1 sigmoid", "2 conv2d", "3 classifier"],
    points: [[0, [1e-6, null, 1e-3, 0.1]], [39, [1e-4, null, 1e-1, 0.1]], [40, [null, null, 0, 0.1]]],
  };
  const { names, points } = gradientsByLayer(g);
  assert.deepEqual(names, g.names);
  assert.deepEqual(points.map((p) => p[0]), [0, 2, 3]); // the sigmoid has no weights
  assert.ok(Math.abs(points[0][1] - 1e-5) < 1e-12, points[0][1]);
  assert.ok(Math.abs(points[1][1] - 1e-2) < 1e-9); // a zero norm is left out, not log(0)
  assert.ok(Math.abs(points[2][1] - 0.1) < 1e-12);
  assert.deepEqual(gradientsByLayer(undefined), { names: [], points: [] });
});
