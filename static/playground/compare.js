// Several runs' per-epoch curves on shared charts, their gradient norms by layer, and
// their settings side by side. Each run is named by its title plus what tells it apart
// (playground/train/services.py run_names).
import { readJSON } from "../webapp/dom.js";
import { formatCount, formatPercent } from "../webapp/format.js";
import { LinePlot } from "../webapp/plot.js";
import { gradientsByLayer } from "./curves.js";

const runs = readJSON("compare-runs");
const charts = [
  ["cmp-val-acc", "val_accuracy", "accuracy", { yMin: 0, yMax: 1 }],
  ["cmp-val-loss", "val_loss", "loss", { yMin: 0 }],
  ["cmp-train-loss", "train_loss", "loss", { yMin: 0 }],
  ["cmp-train-acc", "train_accuracy", "accuracy", { yMin: 0, yMax: 1 }],
];
for (const [id, key, label, opts] of charts) {
  new LinePlot(document.getElementById(id), { xLabel: "epoch", yLabel: label, ...opts })
    .update(runs.map((r) => ({ name: r.name, points: r.epochs.map((e) => [e.epoch, e[key]]) })));
}

// Gradient norms by layer: one line per run, x = the layer, y = its ‖grad‖ (log).
const byLayer = runs.map((r) => ({ name: r.name, ...gradientsByLayer(r.gradients) }));
const layerNames = byLayer.reduce((a, g) => (g.names.length > a.length ? g.names : a), []);
const gradEl = document.getElementById("cmp-grad");
if (byLayer.some((g) => g.points.length)) {
  new LinePlot(gradEl, {
    xLabel: "layer", yLabel: "‖grad‖", logY: true,
    xTick: (x) => (Number.isInteger(x) ? String(layerNames[x] ?? x).split(" ")[0] : ""),
  }).update(byLayer.filter((g) => g.points.length).map((g) => ({ name: g.name, points: g.points })));
} else {
  gradEl.textContent = "None of these runs recorded gradient norms.";
}

const body = document.querySelector("#cmp-table tbody");
for (const r of runs) {
  const tr = body.insertRow();
  const s = r.settings, accs = r.epochs.map((e) => e.val_accuracy);
  const link = document.createElement("a");
  link.href = r.url; link.textContent = r.name;
  tr.insertCell().append(link);
  for (const v of [r.status, s.dataset, s.optimizer, s.lr, s.batch_size, s.init, s.weight_decay,
    r.params ? formatCount(r.params) : "–", `${r.epochs.length} / ${s.epochs}`,
    formatPercent(accs.length ? Math.max(...accs) : null), formatPercent(accs.at(-1))]) {
    tr.insertCell().textContent = v ?? "–";
  }
}
