// The headline of each task's live view: what a person reads first under the pictures.
import assert from "node:assert/strict";
import { test } from "node:test";

import { taskHeadline } from "../../static/playground/taskview.js";

test("localise and segment name the mean IoU", () => {
  assert.match(taskHeadline({ task: "localise", value: 0.7537, items: [{}, {}] }),
    /^Mean IoU 0\.754 on the validation scenes\. Green: the true box, red: the predicted one \(2 shown\)\.$/);
  assert.match(taskHeadline({ task: "segment", value: 0.8366 }), /^Mean IoU 0\.837 over the classes present/);
});

test("landmarks give the error of every point in pixels", () => {
  const text = taskHeadline({ task: "landmarks", value: 1.4464, classes: ["left eye", "mouth"], per_point: [1.2, 1.9] });
  assert.match(text, /^Mean point error 1\.45 px \(left eye 1\.2 · mouth 1\.9\)/);
});

test("verify names the held-out classes, the pair accuracy at the threshold and the AUC", () => {
  const ev = {
    task: "verify", value: 0.8123, pair_accuracy: 0.7251, threshold: 0.5312, distance: "squared distance",
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    gallery: [{ label: 7 }, { label: 7 }, { label: 9 }, { label: 8 }],
  };
  assert.equal(taskHeadline(ev),
    "On classes never trained on (7, 9, 8): pair accuracy 72.5% at threshold 0.531 (squared distance), ROC AUC 0.812.");
  assert.equal(taskHeadline({ task: "classify" }), "");
});
