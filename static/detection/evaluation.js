// The job page's "measured on your labels" panel: mAP from pycocotools (the worker's
// evaluation.json, detection.evaluate), AP per class, precision-recall curves, and a
// gallery of hits, false positives (with why) and misses at the job's own thresholds.
import { $ } from "../webapp/dom.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";

const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}`);
const KIND_TEXT = { tp: "hit", fp: "false positive", miss: "missed" };
let shown = null; // the URL of the evaluation on the page

export async function showEvaluation(summary, pictures) {
  if (!summary || shown === summary.url) return;
  shown = summary.url;
  const panel = $("det-eval");
  panel.hidden = false;
  $("det-eval-map50").textContent = pct(summary.map50);
  $("det-eval-map").textContent = pct(summary.map);
  const c = summary.counts || {};
  const n = (count, one, many) => `${count ?? 0} ${count === 1 ? one : many}`;
  $("det-eval-counts").textContent = `${n(summary.labelled, "labelled object", "labelled objects")} · ` +
    `${n(c.tp, "hit", "hits")}, ${n(c.fp, "false positive", "false positives")}, ` +
    `${c.miss ?? 0} missed at the job's confidence`;
  let doc;
  try {
    const resp = await fetch(summary.url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    doc = await resp.json();
  } catch (e) {
    $("det-eval-counts").textContent += ` (details not loaded: ${e.message || e})`;
    return;
  }
  const outcomes = doc.pictures.flatMap((p) => p.outcomes.map((o) => ({ ...o, picture: p })));
  classTable(doc.classes, outcomes);
  new LinePlot($("det-eval-pr"), { xLabel: "recall", yLabel: "precision", yMin: 0, yMax: 1 })
    .update(doc.classes.map((k, i) => ({ name: `${k.class} (AP ${pct(k.ap50)})`,
                                         color: PALETTE[i % PALETTE.length], points: k.pr })));
  gallery(outcomes, pictures);
}

// "detected" counts boxes at the job's confidence, as the pictures and the gallery show
// them; the AP columns are over every box down to 0.005 (k.detected counts those).
function classTable(classes, outcomes) {
  const body = $("det-eval-classes").querySelector("tbody");
  body.replaceChildren();
  const shown = (name) => outcomes.filter((o) => o.class === name && o.kind !== "miss").length;
  for (const k of [...classes].sort((a, b) => a.ap50 - b.ap50)) {
    const tr = body.insertRow();
    for (const text of [k.class, pct(k.ap50), pct(k.ap), k.labelled, shown(k.class)]) {
      tr.insertCell().textContent = text;
    }
  }
}

/** The gallery's first view: `preferred` when it has tiles, else the first kind that has. */
export function firstKind(items, preferred) {
  const has = (kind) => items.some((o) => o.kind === kind);
  return [preferred, "fp", "miss", "tp"].find(has) || "all";
}

function gallery(items, pictures) {
  const box = $("det-eval-gallery");
  const filter = $("det-eval-filter");
  for (const option of filter.options) {
    const n = option.value === "all" ? items.length : items.filter((o) => o.kind === option.value).length;
    option.textContent = `${option.textContent.replace(/ \(\d+\)$/, "")} (${n})`;
  }
  filter.value = firstKind(items, filter.value);
  const draw = () => {
    const kind = filter.value;
    box.replaceChildren();
    const chosen = items.filter((o) => kind === "all" || o.kind === kind);
    for (const o of chosen.slice(0, 200)) box.append(tile(o, pictures.get(o.picture.index)));
    if (chosen.length > 200) {
      const more = document.createElement("p");
      more.className = "hint";
      more.textContent = `and ${chosen.length - 200} more (evaluation.json has them all)`;
      box.append(more);
    }
    if (!chosen.length) box.textContent = "None.";
  };
  filter.onchange = draw;
  draw();
}

// A crop of the picture around the box, with some room around it, as a tile.
function tile(o, pic) {
  const fig = document.createElement("figure");
  fig.className = `det-eval-tile ${o.kind}`;
  fig.dataset.kind = o.kind;
  const crop = document.createElement("div");
  crop.className = "det-eval-crop";
  if (pic) {
    const { width: W, height: H, url } = pic.entry;
    const [x1, y1, x2, y2] = o.box;
    const pad = 0.25 * Math.max(x2 - x1, y2 - y1, 8);
    const cx1 = Math.max(0, x1 - pad), cy1 = Math.max(0, y1 - pad);
    const cw = Math.min(W, x2 + pad) - cx1, ch = Math.min(H, y2 + pad) - cy1;
    const scale = 96 / Math.max(cw, ch);
    crop.style.width = `${cw * scale}px`;
    crop.style.height = `${ch * scale}px`;
    crop.style.backgroundImage = `url("${url}")`;
    crop.style.backgroundSize = `${W * scale}px ${H * scale}px`;
    crop.style.backgroundPosition = `${-cx1 * scale}px ${-cy1 * scale}px`;
    const mark = document.createElement("i");
    mark.style.left = `${(x1 - cx1) * scale}px`;
    mark.style.top = `${(y1 - cy1) * scale}px`;
    mark.style.width = `${(x2 - x1) * scale}px`;
    mark.style.height = `${(y2 - y1) * scale}px`;
    crop.append(mark);
  }
  const cap = document.createElement("figcaption");
  const head = document.createElement("b");
  head.textContent = `${KIND_TEXT[o.kind]}: ${o.class}${o.score !== null ? ` ${o.score.toFixed(2)}` : ""}`;
  const why = document.createElement("span");
  why.className = "hint";
  why.textContent = o.kind === "tp" ? `IoU ${o.iou.toFixed(2)} · ${o.picture.name}` : `${o.why} · ${o.picture.name}`;
  cap.append(head, why);
  fig.append(crop, cap);
  return fig;
}
