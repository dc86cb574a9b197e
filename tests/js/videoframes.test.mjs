// The video page's pure parts: candidates.json's flat frames read back, the frame a clip
// is on, and each class's count over time from the re-filtered boxes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { shownBoxes } from "../../static/detection/refilter.js";
import { countsOverTime, frameAt, frameCandidates } from "../../static/detection/videoframes.js";

const names = ["person", "bicycle", "car"];

test("a frame's flat list reads back as candidates, six numbers a box", () => {
  const flat = [2, 0.91, 10, 20, 110, 80.5, 0, 0.3, 1, 2, 3, 4];
  assert.deepEqual(frameCandidates(flat, names), [
    { class: "car", class_id: 2, score: 0.91, box: [10, 20, 110, 80.5] },
    { class: "person", class_id: 0, score: 0.3, box: [1, 2, 3, 4] },
  ]);
  assert.deepEqual(frameCandidates([], names), []);
  assert.deepEqual(frameCandidates([7, 0.5, 0, 0, 1, 1], names)[0].class, "class 7");
  assert.deepEqual(frameCandidates([1, 0.5, 0, 0], names), []);  // a cut box is not read
});

test("the frame on screen from the clip's time, milliseconds rounded, within the clip", () => {
  assert.equal(frameAt(0, 30, 10), 0);
  assert.equal(frameAt(0.033, 30, 10), 1);  // 1/30 s written as 33 ms
  assert.equal(frameAt(0.066, 30, 10), 2);
  assert.equal(frameAt(0.125, 8, 16), 1);
  assert.equal(frameAt(0.2, 8, 16), 1);  // a seek part-way shows the frame begun before it
  assert.equal(frameAt(99, 8, 16), 15);
  assert.equal(frameAt(-1, 8, 16), 0);
  assert.equal(frameAt(NaN, 8, 16), 0);
  assert.equal(frameAt(1, 8, 0), 0);
});

test("counts over time: each class's boxes per frame, the most at once first", () => {
  const car = { class: "car" }, person = { class: "person" };
  const counts = countsOverTime([[car], [person, person, car], []], [0, 0.5, 1]);
  assert.deepEqual(Object.keys(counts), ["person", "car"]);
  assert.deepEqual(counts.person, [[0, 0], [0.5, 2], [1, 0]]);
  assert.deepEqual(counts.car, [[0, 1], [0.5, 1], [1, 0]]);
  assert.deepEqual(countsOverTime([[], []], [0, 1]), {});
});

test("shownBoxes: hiding a class keeps the others' boxes; own confidences apply", () => {
  const cands = [
    { class: "car", class_id: 2, score: 0.9, box: [0, 0, 10, 10] },
    { class: "car", class_id: 2, score: 0.8, box: [1, 1, 10, 10] },  // overlaps the first
    { class: "person", class_id: 0, score: 0.4, box: [0, 0, 10, 10] },
  ];
  const all = shownBoxes(cands, { conf: 0.3, iou: 0.5 });
  assert.deepEqual(all.shown.map((d) => d.score), [0.9, 0.4]);
  const noCar = shownBoxes(cands, { conf: 0.3, iou: 0.5, allowed: new Set(["person"]) });
  assert.deepEqual(noCar.shown.map((d) => d.class), ["person"]);
  assert.deepEqual(noCar.all, all.all);
  const own = shownBoxes(cands, { conf: 0.3, iou: 0.5, classConf: { person: 0.5 } });
  assert.deepEqual(own.shown.map((d) => d.class), ["car"]);
});
