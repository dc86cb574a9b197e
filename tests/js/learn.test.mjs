// The course's widget arithmetic against hand-computed values.
import { test } from "node:test";
import assert from "node:assert/strict";

import { KERNELS, builtinPicture, convolve, outputSize, parseKernel, patchAt, samePadding,
         toDisplay, toGrey } from "../../static/learn/convolution.js";
import { convParams, denseParams, normalise, receptiveFields, scientific,
         separableCost } from "../../static/learn/formulas.js";

// The course's edge example: a 6×6 picture, bright (10) left half, dark (0) right half.
const HALVES = Array.from({ length: 6 }, () => [10, 10, 10, 0, 0, 0]);

test("the vertical-edge kernel on the course's 6×6 halves gives 0 30 30 0 on every row", () => {
  const out = convolve(HALVES, KERNELS.vertical.rows);
  assert.deepEqual(out, Array.from({ length: 4 }, () => [0, 30, 30, 0]));
});

test("one output pixel: its patch, the nine products and their sum", () => {
  // (0, 1): columns 1..3 = 10 10 0 on each row; kernel columns 1 0 -1 → 10 + 0 + 0 per row
  const found = patchAt(HALVES, KERNELS.vertical.rows, {}, 0, 1);
  assert.deepEqual(found.patch, [[10, 10, 0], [10, 10, 0], [10, 10, 0]]);
  assert.deepEqual(found.products, [[10, 0, -0], [10, 0, -0], [10, 0, -0]]);
  assert.equal(found.sum, 30);
});

test("a hand-worked 4×4 picture with Sobel, same padding and stride 2", () => {
  const image = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]];
  const out = convolve(image, KERNELS.sobel_x.rows, { padding: 1, stride: 2 });
  // size ⌊(4 + 2 − 3)/2⌋ + 1 = 2
  // (0,0): patch rows [0 0 0] [0 1 2] [0 5 6] → 0 + (0·2 + 1·0 − 2·2) + (0 + 0 − 6) = −10
  // (0,1): patch rows [0 0 0] [2 3 4] [6 7 8] → (2·2 − 4·2) + (6 − 8) = −6
  // (1,0): patch rows [0 5 6] [0 9 10] [0 13 14] → −6 − 20 − 14 = −40
  // (1,1): patch rows [6 7 8] [10 11 12] [14 15 16] → (6 − 8) + 2(10 − 12) + (14 − 16) = −8
  assert.deepEqual(out, [[-10, -6], [-40, -8]]);
});

test("blur averages, sharpen keeps a flat area, an edge kernel answers 0 on it", () => {
  const flat = Array.from({ length: 3 }, () => [9, 9, 9]);
  assert.ok(Math.abs(convolve(flat, KERNELS.blur.rows)[0][0] - 9) < 1e-9);
  assert.equal(convolve(flat, KERNELS.sharpen.rows)[0][0], 9);
  assert.equal(convolve(flat, KERNELS.scharr_x.rows)[0][0], 0);
  assert.equal(convolve(flat, KERNELS.horizontal.rows)[0][0], 0);
});

test("output size: (n + 2p − f)/s + 1, same padding, and kernels that do not fit", () => {
  assert.equal(outputSize(6, 3), 4);
  assert.equal(outputSize(7, 3, 0, 2), 3);
  assert.equal(outputSize(300, 5, 2, 1), 300);
  assert.equal(outputSize(28, 2, 0, 2), 14);
  assert.equal(outputSize(14, 5), 10); // the course's 1D signal: 14 → 10 → 6
  assert.equal(outputSize(10, 5), 6);
  assert.equal(samePadding(5), 2);
  assert.throws(() => samePadding(4), /odd/);
  assert.throws(() => outputSize(2, 5), /does not fit/);
  assert.throws(() => outputSize(6, 3, 0, 0), /s must be/);
});

test("typed kernels: rows, fractions, and clear refusals", () => {
  assert.deepEqual(parseKernel("1 0 -1; 2 0 -2\n1,0,-1"), [[1, 0, -1], [2, 0, -2], [1, 0, -1]]);
  assert.deepEqual(parseKernel("1/4 1/4; 1/4 1/4"), [[0.25, 0.25], [0.25, 0.25]]);
  assert.throws(() => parseKernel("1 2; 3"), /square/);
  assert.throws(() => parseKernel("1 x; 3 4"), /“x” is not a number/);
  assert.throws(() => parseKernel(""), /at least one row/);
  assert.throws(() => parseKernel("1/0"), /not a finite/);
});

test("grey from RGBA, the built-in picture, and display scaling", () => {
  assert.deepEqual(toGrey([255, 0, 0, 255, 0, 0, 255, 255], 2, 1), [[76, 29]]);
  const picture = builtinPicture(24);
  assert.equal(picture.length, 24);
  assert.deepEqual([...new Set(picture.flat())].sort(), [160, 220, 30].sort());
  assert.deepEqual(toDisplay([[-2, 0, 2]]), [[0, 128, 255]]);
  assert.deepEqual(toDisplay([[1, 3]]), [[0, 255]]);
});

test("parameters: the week-3 example is 26 against 8.1 × 10⁹", () => {
  assert.equal(convParams(5, 1, 1), 26);
  assert.equal(convParams(3, 3, 10), 280);
  assert.equal(convParams(1, 192, 16), 3088);
  const dense = denseParams(300, 300, 1, 300, 300, 1);
  assert.equal(dense.weights, 8.1e9);
  assert.equal(dense.biases, 90000);
  assert.equal(scientific(dense.weights), "8.1 × 10⁹");
  assert.equal(scientific(3088), "3,088");
});

test("depthwise-separable: the course's 6×6×3, 3×3, 5 filters costs 2160 against 432 + 240", () => {
  const cost = separableCost(6, 3, 3, 5);
  assert.deepEqual([cost.out, cost.normal, cost.depthwise, cost.pointwise, cost.separable],
                   [4, 2160, 432, 240, 672]);
  assert.ok(Math.abs(cost.ratio - (1 / 5 + 1 / 9)) < 1e-12);
  assert.equal(cost.formula, 1 / 5 + 1 / 9);
  assert.throws(() => separableCost(2, 3, 3, 5), /does not fit/);
});

test("receptive fields: n 3×3 convs see 2n + 1; a pool doubles the later steps", () => {
  const convs = receptiveFields([{ k: 3 }, { k: 3 }, { k: 3 }, { k: 3 }]);
  assert.deepEqual(convs.map((x) => x.rf), [3, 5, 7, 9]);
  const pooled = receptiveFields([{ k: 3 }, { k: 2, s: 2 }, { k: 3 }]);
  assert.deepEqual(pooled, [{ rf: 3, jump: 1 }, { rf: 4, jump: 2 }, { rf: 8, jump: 2 }]);
});

test("normalisation x/255 − 0.5", () => {
  assert.equal(normalise(0), -0.5);
  assert.equal(normalise(255), 0.5);
  assert.ok(Math.abs(normalise(51) + 0.3) < 1e-12);
});
