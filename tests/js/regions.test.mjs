// The region painter's operations (static/styletransfer/regions.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  REGION_COLOURS, colourLabels, floodFill, fromGreyRGBA, labelMap, paintDisc, paintLine, splitByColour,
  toGreyRGBA, unusedStyles, usedRegions,
} from "../../static/styletransfer/regions.js";

test("a disc paints only inside its radius and stays inside the map", () => {
  const map = labelMap(10, 8);
  paintDisc(map, 0, 0, 2, 3);
  assert.equal(map.labels[0], 3);
  assert.equal(map.labels[2], 3); // (2, 0): on the circle
  assert.equal(map.labels[2 * 10 + 2], 0); // (2, 2): outside
  assert.deepEqual(usedRegions(map), [0, 3]);
});

test("a stroke leaves no gap however fast the pointer moved", () => {
  const map = labelMap(100, 5);
  paintLine(map, 2, 2, 97, 2, 2, 1);
  for (let x = 2; x <= 97; x++) assert.equal(map.labels[2 * 100 + x], 1, `x ${x}`);
});

test("fill changes the connected area only, and nothing when it is already that region", () => {
  const map = labelMap(6, 3);
  for (let y = 0; y < 3; y++) map.labels[y * 6 + 3] = 2; // a wall at x = 3
  assert.equal(floodFill(map, 0, 0, 1), 9);
  assert.equal(map.labels[5], 0); // beyond the wall
  assert.equal(floodFill(map, 0, 0, 1), 0);
});

test("the colour split is the same every time and numbers regions dark to bright", () => {
  const width = 8;
  const height = 4;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const right = p % width >= 4;
    rgba.set(right ? [240, 230, 200, 255] : [20, 40, 90, 255], 4 * p);
    if (p === 9) rgba.set([30, 45, 80, 255], 4 * p); // a little noise
  }
  const first = splitByColour(rgba, width, height, 2);
  const again = splitByColour(rgba, width, height, 2);
  assert.deepEqual(first.labels, again.labels);
  assert.equal(first.labels[0], 0); // dark blue
  assert.equal(first.labels[7], 1); // light
  assert.equal(first.labels[9], 0);
});

test("a map survives the trip through grey RGBA bytes", () => {
  const map = labelMap(5, 4);
  paintDisc(map, 2, 2, 1.5, 7);
  const back = fromGreyRGBA(toGreyRGBA(map), 5, 4);
  assert.deepEqual(back.labels, map.labels);
});

test("a label map shows in the regions' colours, not as near-black grey values", () => {
  const map = labelMap(3, 1);
  map.labels.set([0, 1, 2]);
  const rgba = colourLabels(map);
  const hex = (p) => "#" + [...rgba.slice(4 * p, 4 * p + 3)].map((v) => v.toString(16).padStart(2, "0")).join("");
  assert.deepEqual([0, 1, 2].map(hex), REGION_COLOURS.slice(0, 3));
  assert.deepEqual([rgba[3], rgba[7]], [255, 255]);
  const faint = colourLabels(map, { alpha: 120, baseAlpha: 40 });
  assert.deepEqual([faint[3], faint[7], faint[11]], [40, 120, 120]);
});

test("a chosen style that no painted region is given is named", () => {
  const map = labelMap(4, 1);
  map.labels.set([0, 0, 1, 1]);
  const regions = [{ style: null }, { style: 0 }, { style: 1 }];  // region 2 never painted
  assert.deepEqual(unusedStyles(map, regions, 2), [1]);
  assert.deepEqual(unusedStyles(map, [{ style: 1 }, { style: 0 }], 2), []);
  assert.deepEqual(unusedStyles(map, [{ style: null }, { style: null }], 1), [0]);
});
