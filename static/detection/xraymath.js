// The arithmetic of the X-ray view, pure so the Node tests import it: greedy per-class NMS
// written out step by step (detection.xray.nms_steps in the worker), and the parts of an
// IoU for the explorer.
import { threshold } from "./refilter.js";

/** Intersection, union and IoU of two boxes [x1, y1, x2, y2]. */
export function iouParts(a, b) {
  const area = (r) => Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const intersection = w * h;
  const union = area(a) + area(b) - intersection;
  return { intersection, union, iou: union > 0 ? intersection / union : 0 };
}

/** Greedy per-class NMS by steps over the candidates scoring at least their class's
 *  confidence (classConf, else conf): sorted by score (ties: earlier first), keep the best
 *  remaining box, suppress the remaining boxes of its class overlapping it by more than iou,
 *  next. Returns [{keep, suppressed: [{index, iou}]}], indices into `candidates`; the kept
 *  boxes are refilter's, in its order. `key` names the box field ("box" or "net_box"). */
export function nmsSteps(candidates, conf, iou, classConf = null, key = "box") {
  let remaining = candidates
    .map((d, i) => i)
    .filter((i) => candidates[i].score >= threshold(candidates[i].class, conf, classConf))
    .sort((i, j) => candidates[j].score - candidates[i].score || i - j);
  const steps = [];
  while (remaining.length) {
    const [best, ...rest] = remaining;
    const kept = candidates[best];
    const suppressed = [];
    remaining = rest.filter((j) => {
      const other = candidates[j];
      if (other.class_id !== kept.class_id) return true;
      const overlap = iouParts(kept[key], other[key]).iou;
      if (overlap > iou) {
        suppressed.push({ index: j, iou: overlap });
        return false;
      }
      return true;
    });
    steps.push({ keep: best, suppressed });
  }
  return steps;
}
