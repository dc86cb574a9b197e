// The job page's "models compared on your labels" panel: the worker ran each chosen model
// over the same labelled pictures (detection.worker.compare_models, pycocotools); here
// their mAP, AP per class side by side, time per picture and precision-recall curves.
import { $, make } from "../webapp/dom.js";
import { getJSON } from "../webapp/http.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";

const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}`);
let shown = null; // the URL of the comparison on the page

function cell(row, text, tag = "td") {
  return row.appendChild(make(tag, { textContent: text }));
}

export async function showComparison(summary) {
  if (!summary || shown === summary.url) return;
  shown = summary.url;
  $("det-compare").hidden = false;
  const models = summary.models;
  const table = $("det-compare-table");
  const head = make("tr");
  cell(head, "", "th");
  models.forEach((m) => { cell(head, m.model.name, "th").dataset.model = m.model.key; });
  const rows = [
    ["mAP@0.5", (m) => pct(m.map50)],
    ["mAP@0.5:0.95", (m) => pct(m.map)],
    ["published mAP@0.5 (COCO)", (m) => `${m.model.published_map50}`],
    ["time per picture", (m) => `${m.ms_per_picture.toFixed(0)} ms`],
  ];
  const body = make("tbody");
  for (const [label, value] of rows) {
    const tr = make("tr");
    cell(tr, label, "th");
    models.forEach((m) => cell(tr, value(m)));
    body.append(tr);
  }
  // AP@0.5 per labelled class (the same classes for every model: those in the labels).
  for (const k of models[0].classes) {
    const tr = make("tr", { className: "det-compare-class" });
    cell(tr, `AP@0.5 ${k.class}`, "th");
    models.forEach((m) => cell(tr, pct((m.classes.find((c) => c.class === k.class) || {}).ap50)));
    body.append(tr);
  }
  table.replaceChildren(make("thead", {}, head), body);

  const curves = $("det-compare-curves");
  let doc;
  try {
    doc = await getJSON(summary.url);
  } catch (e) {
    curves.textContent = `The curves could not be loaded: ${e.message || e}`;
    return;
  }
  curves.replaceChildren();
  for (const m of doc.models) {
    const plot = make("div");
    const box = make("div", { className: "det-compare-curve" },
                     make("b", { textContent: `${m.model.name} (mAP@0.5 ${pct(m.map50)})` }), plot);
    box.dataset.model = m.model.key;
    curves.append(box);
    new LinePlot(plot, { xLabel: "recall", yLabel: "precision", yMin: 0, yMax: 1 })
      .update(m.classes.map((k, i) => ({ name: `${k.class} (AP ${pct(k.ap50)})`,
                                         color: PALETTE[i % PALETTE.length], points: k.pr })));
  }
}
