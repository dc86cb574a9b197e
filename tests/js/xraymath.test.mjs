// The X-ray's NMS by steps ends with the boxes the page's re-filter keeps (the cases
// detection.yolo.refilter was checked on), and the IoU explorer's arithmetic.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { refilter } from "../../static/detection/refilter.js";
import { iouParts, nmsSteps } from "../../static/detection/xraymath.js";

const cases = JSON.parse(readFileSync(new URL("../fixtures/refilter.json", import.meta.url)));

for (const c of cases.filter((c) => c.allowed === null)) {
  test(`NMS by steps keeps refilter's boxes: ${c.name}`, () => {
    const steps = nmsSteps(c.candidates, c.conf, c.iou, c.class_conf ?? null);
    assert.deepEqual(steps.map((s) => s.keep), c.kept);
    const expected = refilter(c.candidates, c.conf, c.iou, null, c.class_conf ?? null);
    assert.deepEqual(steps.map((s) => c.candidates[s.keep]), expected);
    // every box over its threshold is kept or suppressed once, by a box of its class
    const gone = steps.flatMap((s) => s.suppressed.map((x) => x.index));
    assert.equal(new Set([...c.kept, ...gone]).size, c.kept.length + gone.length);
    for (const s of steps) {
      for (const x of s.suppressed) {
        assert.equal(c.candidates[x.index].class_id, c.candidates[s.keep].class_id);
        assert.ok(x.iou > c.iou);
      }
    }
  });
}

test("IoU parts of overlapping, disjoint, nested and empty boxes", () => {
  assert.deepEqual(iouParts([0, 0, 10, 10], [5, 0, 15, 10]), { intersection: 50, union: 150, iou: 1 / 3 });
  assert.deepEqual(iouParts([0, 0, 10, 10], [20, 20, 30, 30]), { intersection: 0, union: 200, iou: 0 });
  assert.deepEqual(iouParts([0, 0, 10, 10], [2, 2, 7, 7]), { intersection: 25, union: 100, iou: 0.25 });
  assert.deepEqual(iouParts([5, 5, 5, 5], [5, 5, 5, 5]), { intersection: 0, union: 0, iou: 0 });
});
