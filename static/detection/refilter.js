// What a detection results page does with a picture's stored candidates when a slider
// moves: the same filter and per-class greedy NMS as detection.yolo.refilter, in the page.
// tests/fixtures/refilter.json holds cases both implementations are checked against.
// Pure: the Node tests import it.

/** Intersection over union of two boxes [x1, y1, x2, y2]. */
export function boxIoU(a, b) {
  const areaA = Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
  const areaB = Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const union = areaA + areaB - w * h;
  return union > 0 ? (w * h) / union : 0;
}

/** The confidence a box of class `name` needs: its own in classConf ({name: value}, or
 *  null for none), else the global conf (detection.thresholds.threshold). */
export function threshold(name, conf, classConf) {
  return classConf && Object.hasOwn(classConf, name) ? classConf[name] : conf;
}

/** Keep score >= its class's confidence (classConf, else conf) and allowed classes (a Set of
 *  names, or null for all), then greedy NMS within each class, best first: a box goes when
 *  it overlaps a kept one by more than iou. */
export function refilter(candidates, conf, iou, allowed, classConf = null) {
  const kept = candidates.filter((d) => d.score >= threshold(d.class, conf, classConf) &&
    (!allowed || allowed.has(d.class)));
  const order = kept.map((_, i) => i).sort((i, j) => kept[j].score - kept[i].score || i - j);
  const gone = new Uint8Array(kept.length);
  const out = [];
  for (let a = 0; a < order.length; a++) {
    if (gone[order[a]]) continue;
    const best = kept[order[a]];
    out.push(best);
    for (let b = a + 1; b < order.length; b++) {
      const other = kept[order[b]];
      if (!gone[order[b]] && other.class_id === best.class_id && boxIoU(best.box, other.box) > iou) {
        gone[order[b]] = 1;
      }
    }
  }
  return out;
}

/** What the page shows of some candidates at the sliders ({conf, iou, classConf, allowed}):
 *  `all` re-filtered with every class, `shown` those of the allowed classes. NMS is per
 *  class, so hiding a class never changes the boxes of another. */
export function shownBoxes(candidates, { conf, iou, classConf = null, allowed = null }) {
  const all = refilter(candidates, conf, iou, null, classConf);
  return { all, shown: allowed ? all.filter((d) => allowed.has(d.class)) : all };
}

/** The same colour per class as the server's PNGs (detection.annotate.class_colour). */
export function classColour(id) {
  const h = (id * 0.618034) % 1, s = 0.85, v = 0.95;
  const i = Math.floor(h * 6), f = h * 6 - i;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
  return `rgb(${Math.trunc(r * 255)}, ${Math.trunc(g * 255)}, ${Math.trunc(b * 255)})`;
}
