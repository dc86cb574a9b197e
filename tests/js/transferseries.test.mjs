// The transfer-learning charts: which lines are drawn from the job's rows.
import assert from "node:assert/strict";
import { test } from "node:test";

import { lineStyle } from "../../static/webapp/plot.js";
import { MODE_COLOUR, seriesByEpoch, seriesBySize } from "../../static/playground/transferseries.js";

const row = (mode, perClass, acc) => ({
  mode, per_class: perClass, train_pictures: perClass * 10, val_accuracy: acc,
  history: [{ epoch: 1, val_accuracy: acc / 2 }, { epoch: 2, val_accuracy: acc }],
});
const rows = [row("scratch", 30, 0.9), row("frozen", 30, 0.93), row("scratch", 10, 0.73),
  row("frozen", 10, 0.89), row("finetune", 10, 0.87)];

test("one line per mode against pictures per class, sorted by size", () => {
  const series = seriesBySize(rows);
  assert.deepEqual(series.map((s) => s.name), ["scratch", "frozen", "fine-tune"]);
  assert.deepEqual(series[0].points, [[10, 0.73], [30, 0.9]]);
  assert.deepEqual(series[2].points, [[10, 0.87]]);
  assert.equal(series[1].color, MODE_COLOUR.frozen);
});

test("a run on all the pictures is placed at its picture count", () => {
  const series = seriesBySize([{ ...row("frozen", 0, 0.97), train_pictures: 4000 }]);
  assert.deepEqual(series[0].points, [[4000, 0.97]]);
});

test("one line per finished and per running (mode, size) against epochs", () => {
  const running = new Map([["finetune/30", [[1, 0.5]]]]);
  const series = seriesByEpoch(rows, running);
  assert.equal(series.length, 6);
  assert.deepEqual(series[1].points, [[1, 0.465], [2, 0.93]]);
  // colour = mode, dash = pictures per class (10: solid, 30: dashed)
  assert.equal(series[1].color, MODE_COLOUR.frozen);
  assert.equal(lineStyle(series[1]), "dashed"); // frozen, 30/class
  assert.equal(lineStyle(series[3]), "solid"); // frozen, 10/class
  assert.match(series.at(-1).name, /fine-tune, 30\/class \(training\)/);
});

test("no two lines against epochs share both colour and dash (10 and 30 per class apart)", () => {
  const running = new Map([["finetune/30", [[1, 0.5]]]]);
  const looks = seriesByEpoch(rows, running).map((s) => `${s.color} ${lineStyle(s)}`);
  assert.equal(new Set(looks).size, looks.length, looks.join(", "));
});
