// Painting regions over a photo: a label map (one byte per pixel = region number) and
// the operations the page's tools apply to it. Pure: the Node tests import it.
// The server reads the map as a grey PNG (webapp/pictures.py read_label_map).

/** A label map of width x height, every pixel in region 0. */
export function labelMap(width, height) {
  return { width, height, labels: new Uint8Array(width * height) };
}

/** Paint a disc of `radius` px centred on (x, y) with `label` (brush and eraser). */
export function paintDisc(map, x, y, radius, label) {
  const { width, height, labels } = map;
  const r2 = radius * radius;
  for (let j = Math.max(0, Math.floor(y - radius)); j <= Math.min(height - 1, Math.ceil(y + radius)); j++) {
    for (let i = Math.max(0, Math.floor(x - radius)); i <= Math.min(width - 1, Math.ceil(x + radius)); i++) {
      if ((i - x) ** 2 + (j - y) ** 2 <= r2) labels[j * width + i] = label;
    }
  }
}

/** Paint a stroke from (x0, y0) to (x1, y1): discs close enough to leave no gap. */
export function paintLine(map, x0, y0, x1, y1, radius, label) {
  const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / Math.max(1, radius / 2)));
  for (let s = 0; s <= steps; s++) {
    paintDisc(map, x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, radius, label);
  }
}

/** Fill the 4-connected area of (x, y)'s region with `label`; returns pixels changed. */
export function floodFill(map, x, y, label) {
  const { width, height, labels } = map;
  const start = y * width + x;
  const from = labels[start];
  if (from === label) return 0;
  const stack = [start];
  let changed = 0;
  while (stack.length) {
    const p = stack.pop();
    if (labels[p] !== from) continue;
    labels[p] = label;
    changed++;
    const px = p % width;
    if (px > 0) stack.push(p - 1);
    if (px < width - 1) stack.push(p + 1);
    if (p >= width) stack.push(p - width);
    if (p < width * (height - 1)) stack.push(p + width);
  }
  return changed;
}

/** Regions from colour: Lloyd's k-means on RGBA pixels (`rgba`, 4 bytes a pixel), started
 * from `k` pixels spread evenly along the brightness order, so the same photo always
 * splits the same way; regions are numbered from the darkest centre to the brightest. */
export function splitByColour(rgba, width, height, k, iterations = 12) {
  const n = width * height;
  const colour = (p, c) => rgba[4 * p + c];
  const bright = (p) => colour(p, 0) * 0.299 + colour(p, 1) * 0.587 + colour(p, 2) * 0.114;
  const order = [...Array(n).keys()].sort((a, b) => bright(a) - bright(b) || a - b);
  let centres = [...Array(k).keys()].map((i) => {
    const p = order[Math.min(n - 1, Math.floor(((i + 0.5) * n) / k))];
    return [colour(p, 0), colour(p, 1), colour(p, 2)];
  });
  const assign = new Uint8Array(n);
  for (let it = 0; it < iterations; it++) {
    const sums = centres.map(() => [0, 0, 0, 0]);
    for (let p = 0; p < n; p++) {
      let best = 0;
      let bestDistance = Infinity;
      for (let c = 0; c < k; c++) {
        const d = (colour(p, 0) - centres[c][0]) ** 2 + (colour(p, 1) - centres[c][1]) ** 2 +
          (colour(p, 2) - centres[c][2]) ** 2;
        if (d < bestDistance) { bestDistance = d; best = c; }
      }
      assign[p] = best;
      const s = sums[best];
      s[0] += colour(p, 0); s[1] += colour(p, 1); s[2] += colour(p, 2); s[3]++;
    }
    centres = centres.map((old, c) => (sums[c][3] ? sums[c].slice(0, 3).map((v) => v / sums[c][3]) : old));
  }
  const rank = centres.map((c, i) => [c[0] * 0.299 + c[1] * 0.587 + c[2] * 0.114, i])
    .sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const renumber = new Uint8Array(k);
  rank.forEach((cluster, position) => { renumber[cluster] = position; });
  const map = labelMap(width, height);
  for (let p = 0; p < n; p++) map.labels[p] = renumber[assign[p]];
  return map;
}

/** RGBA bytes of the map for a PNG: grey value = region number, opaque. */
export function toGreyRGBA(map) {
  const out = new Uint8ClampedArray(map.width * map.height * 4);
  map.labels.forEach((label, p) => { out.set([label, label, label, 255], 4 * p); });
  return out;
}

/** A map back from a grey picture's RGBA bytes (the earlier job's regions). */
export function fromGreyRGBA(rgba, width, height) {
  const map = labelMap(width, height);
  for (let p = 0; p < width * height; p++) map.labels[p] = rgba[4 * p];
  return map;
}

/** Which regions the map uses, in order. */
export function usedRegions(map) {
  return [...new Set(map.labels)].sort((a, b) => a - b);
}

/** Each region's colour, the same in the painter and on the job page. */
export const REGION_COLOURS = ["#4f7cff", "#ff8a3d", "#2bb673", "#e54b8a", "#f2c230", "#8f5bd6", "#28b5c9", "#8a8f99"];

/** RGBA pixels showing `map` in the regions' colours, region 0 at `baseAlpha`, others at `alpha`. */
export function colourLabels(map, { alpha = 255, baseAlpha = alpha } = {}) {
  const rgb = REGION_COLOURS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const out = new Uint8ClampedArray(map.labels.length * 4);
  map.labels.forEach((label, p) => {
    out.set([...rgb[label % rgb.length], label === 0 ? baseAlpha : alpha], 4 * p);
  });
  return out;
}

/** Indices of the chosen styles (0..styleCount-1) that no painted region is given:
 *  they would not show in the picture. `regions[i].style` is region i's style or null. */
export function unusedStyles(map, regions, styleCount) {
  const given = new Set(usedRegions(map).map((i) => regions[i]?.style).filter((s) => s != null));
  return [...Array(styleCount).keys()].filter((s) => !given.has(s));
}
