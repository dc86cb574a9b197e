// The style form's step total against the cases StyleConfig was checked on
// (tests/styletransfer/test_steps_fixture.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { levelSizes, totalSteps } from "../../static/styletransfer/steps.js";

const { min_level_side: minLevelSide, cases } = JSON.parse(
  readFileSync(new URL("../fixtures/style_steps.json", import.meta.url)));

test("every case: the same pyramid and the same total as the engine", () => {
  assert.ok(cases.length > 50);
  for (const c of cases) {
    const where = `size ${c.size}, levels ${c.levels}`;
    assert.deepEqual(levelSizes(c, minLevelSide), c.level_sizes, where);
    assert.equal(totalSteps(c, minLevelSide), c.total_steps, where);
  }
});

test("the smallest level is what the server says it is", () => {
  const config = { size: 256, steps: 8, levels: 3, coarse_steps: 20 };
  assert.deepEqual(levelSizes(config, 64), [64, 128, 256]);
  assert.deepEqual(levelSizes(config, 65), [128, 256]);
});
