// The convolution of the course's lessons, on a grey picture held as rows of numbers.
// Pure: no DOM. As in every deep-learning library this is cross-correlation (the kernel
// is not flipped); tests/js/learn.test.mjs checks it against hand-computed sums.

export const KERNELS = {
  vertical: { label: "Vertical edge", rows: [[1, 0, -1], [1, 0, -1], [1, 0, -1]] },
  horizontal: { label: "Horizontal edge", rows: [[1, 1, 1], [0, 0, 0], [-1, -1, -1]] },
  sobel_x: { label: "Sobel (vertical edges)", rows: [[1, 0, -1], [2, 0, -2], [1, 0, -1]] },
  sobel_y: { label: "Sobel (horizontal edges)", rows: [[1, 2, 1], [0, 0, 0], [-1, -2, -1]] },
  scharr_x: { label: "Scharr (vertical edges)", rows: [[3, 0, -3], [10, 0, -10], [3, 0, -3]] },
  blur: { label: "Blur (3×3 mean)", rows: [[1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9]] },
  sharpen: { label: "Sharpen", rows: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]] },
};

/** ⌊(n + 2p − f)/s⌋ + 1, the output side of an f-wide window; throws when it does not fit. */
export function outputSize(n, f, p = 0, s = 1) {
  for (const [name, v, low] of [["n", n, 1], ["f", f, 1], ["p", p, 0], ["s", s, 1]]) {
    if (!Number.isInteger(v) || v < low) throw new Error(`${name} must be a whole number ≥ ${low}`);
  }
  if (f > n + 2 * p) throw new Error(`a ${f}-wide kernel does not fit in ${n} pixels padded by ${p}`);
  return Math.floor((n + 2 * p - f) / s) + 1;
}

/** The padding that keeps the size at stride 1 ("same"): (f − 1)/2, for odd f. */
export function samePadding(f) {
  if (f % 2 === 0) throw new Error(`"same" needs an odd kernel; ${f} is even`);
  return (f - 1) / 2;
}

/** A typed kernel: rows of numbers separated by newlines or ";", numbers by spaces or ",".
 *  Fractions like 1/9 are allowed. Throws with a message saying what is wrong. */
export function parseKernel(text) {
  const rows = String(text).trim().split(/\s*[;\n]\s*/).filter((r) => r.length);
  if (!rows.length) throw new Error("type at least one row of numbers");
  const parsed = rows.map((row, i) => row.split(/[\s,]+/).filter((x) => x.length).map((cell) => {
    const m = cell.match(/^(-?\d*\.?\d+)(?:\/(\d*\.?\d+))?$/);
    if (!m) throw new Error(`row ${i + 1}: “${cell}” is not a number`);
    const value = m[2] === undefined ? Number(m[1]) : Number(m[1]) / Number(m[2]);
    if (!Number.isFinite(value)) throw new Error(`row ${i + 1}: “${cell}” is not a finite number`);
    return value;
  }));
  const side = parsed.length;
  if (side > 7) throw new Error("at most 7 rows");
  parsed.forEach((row, i) => {
    if (row.length !== side) throw new Error(`a kernel is square: row ${i + 1} has ${row.length} numbers, not ${side}`);
  });
  return parsed;
}

/** The picture value at (row, col) with p zeros around it. */
function padded(image, row, col, p) {
  const r = row - p, c = col - p;
  return r < 0 || c < 0 || r >= image.length || c >= image[0].length ? 0 : image[r][c];
}

/** The patch under output pixel (i, j), the products with the kernel and their sum. */
export function patchAt(image, kernel, { padding = 0, stride = 1 } = {}, i, j) {
  const f = kernel.length;
  const patch = [], products = [];
  let sum = 0;
  for (let a = 0; a < f; a++) {
    patch.push([]); products.push([]);
    for (let b = 0; b < f; b++) {
      const v = padded(image, i * stride + a, j * stride + b, padding);
      const product = v * kernel[a][b];
      patch[a].push(v); products[a].push(product); sum += product;
    }
  }
  return { patch, products, sum, top: i * stride - padding, left: j * stride - padding };
}

/** The whole output map: rows × cols of patch sums. */
export function convolve(image, kernel, { padding = 0, stride = 1 } = {}) {
  const f = kernel.length;
  const rows = outputSize(image.length, f, padding, stride);
  const cols = outputSize(image[0].length, f, padding, stride);
  const out = [];
  for (let i = 0; i < rows; i++) {
    out.push([]);
    for (let j = 0; j < cols; j++) out[i].push(patchAt(image, kernel, { padding, stride }, i, j).sum);
  }
  return out;
}

/** RGBA bytes (as a canvas gives them) to rows of grey values 0..255 (Rec. 601 luma). */
export function toGrey(rgba, width, height) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = [];
    for (let x = 0; x < width; x++) {
      const k = 4 * (y * width + x);
      row.push(Math.round(0.299 * rgba[k] + 0.587 * rgba[k + 1] + 0.114 * rgba[k + 2]));
    }
    rows.push(row);
  }
  return rows;
}

/** The built-in picture: a bright square and a bright disc on a dark ground, so both
 *  vertical and horizontal (and curved) edges are there to find. */
export function builtinPicture(side = 24) {
  const rows = [];
  const cx = side * 0.68, cy = side * 0.62, r = side * 0.2;
  for (let y = 0; y < side; y++) {
    const row = [];
    for (let x = 0; x < side; x++) {
      const square = x >= side * 0.12 && x < side * 0.42 && y >= side * 0.15 && y < side * 0.5;
      const disc = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
      row.push(square ? 220 : disc ? 160 : 30);
    }
    rows.push(row);
  }
  return rows;
}

/** A map's values spread to 0..255 for drawing (zero at mid-grey when it has both signs). */
export function toDisplay(map) {
  let low = Infinity, high = -Infinity;
  for (const row of map) for (const v of row) { low = Math.min(low, v); high = Math.max(high, v); }
  const signed = low < 0 && high > 0;
  const scale = signed ? Math.max(-low, high) : high - low;
  return map.map((row) => row.map((v) => {
    if (scale === 0) return 128;
    return Math.round(signed ? 127.5 + (127.5 * v) / scale : (255 * (v - low)) / scale);
  }));
}
