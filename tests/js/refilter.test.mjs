// The page's re-filtering against the cases detection.yolo.refilter was checked on
// (tests/detection/test_refilter_fixture.py): same boxes kept, in the same order.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { boxIoU, classColour, refilter, threshold } from "../../static/detection/refilter.js";

const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const cases = fixture("refilter.json");

test("the fixture has cases", () => assert.ok(cases.length >= 30));

for (const c of cases) {
  test(`refilter: ${c.name}`, () => {
    const allowed = c.allowed === null ? null : new Set(c.allowed);
    const kept = refilter(c.candidates, c.conf, c.iou, allowed, c.class_conf ?? null).map((d) => c.candidates.indexOf(d));
    assert.deepEqual(kept, c.kept);
  });
}

test("a class's own confidence, else the global one", () => {
  assert.equal(threshold("cup", 0.25, { cup: 0.5 }), 0.5);
  assert.equal(threshold("dog", 0.25, { cup: 0.5 }), 0.25);
  assert.equal(threshold("cup", 0.25, null), 0.25);
  assert.equal(threshold("constructor", 0.25, {}), 0.25); // not an inherited property
});

test("IoU of equal, disjoint, half-covering and empty boxes", () => {
  assert.equal(boxIoU([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.equal(boxIoU([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  assert.equal(boxIoU([0, 0, 10, 10], [0, 0, 10, 5]), 0.5);
  assert.equal(boxIoU([5, 5, 5, 5], [5, 5, 5, 5]), 0);
});

test("class colours as the server draws them (detection.annotate.class_colour)", () => {
  for (const { class_id, rgb } of fixture("class_colours.json")) {
    assert.equal(classColour(class_id), `rgb(${rgb.join(", ")})`, `class ${class_id}`);
  }
});
