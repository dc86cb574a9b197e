// The transfer-learning run page: accuracy against epochs and against pictures per class
// for each mode, and which layers train. Rows come from Job.metrics.transfer_rows (a
// reload) and the "transfer" events (live); "transfer_epoch" events move the curves.
import { formatCount, formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";
import { LinePlot } from "../webapp/plot.js";
import { MODE_NAME, seriesByEpoch, seriesBySize } from "./transferseries.js";

const byEpoch = new LinePlot(document.getElementById("tl-epochs"), { xLabel: "epoch", yLabel: "accuracy", yMin: 0, yMax: 1 });
const bySize = new LinePlot(document.getElementById("tl-sizes"), { xLabel: "pictures per class", yLabel: "accuracy", yMin: 0, yMax: 1 });
const finished = new Map(); // "mode/size" -> row
const live = new Map(); // "mode/size" -> [[epoch, acc]]

function draw() {
  const rows = [...finished.values()];
  const running = new Map([...live].filter(([key]) => !finished.has(key)));
  byEpoch.update(seriesByEpoch(rows, running));
  bySize.update(seriesBySize(rows));
  const body = document.querySelector("#tl-summary tbody");
  const seen = new Set();
  const lines = [];
  body.replaceChildren();
  for (const row of rows) {
    if (seen.has(row.mode) || !row.summary) continue;
    seen.add(row.mode);
    for (const layer of row.summary.rows) {
      const tr = body.insertRow();
      for (const v of [MODE_NAME[row.mode], layer.name, layer.output_shape.join("×"), formatCount(layer.params),
        layer.frozen ? "frozen" : layer.trainable ? "trains" : "–"]) tr.insertCell().textContent = v;
      if (layer.frozen) tr.className = "pg-frozen";
    }
    lines.push(`${MODE_NAME[row.mode]}: ${formatCount(row.summary.trainable_params)} of ${formatCount(row.summary.total_params)} parameters train`);
  }
  const best = rows.length ? rows.reduce((a, b) => (b.val_accuracy > a.val_accuracy ? b : a)) : null;
  document.getElementById("tl-totals").textContent = lines.join(" · ") +
    (best ? ` · best: ${MODE_NAME[best.mode]} at ${best.per_class || "all"}/class, ${formatPercent(best.val_accuracy)}` : "");
}

watchJob({
  onSnapshot: (job) => {
    for (const row of (job.metrics || {}).transfer_rows || []) finished.set(`${row.mode}/${row.per_class}`, row);
    draw();
  },
  onEvent: (event) => {
    if (event.type === "transfer") {
      finished.set(`${event.row.mode}/${event.row.per_class}`, event.row);
      draw();
    } else if (event.type === "transfer_epoch") {
      const key = `${event.mode}/${event.per_class}`;
      if (!live.has(key)) live.set(key, []);
      live.get(key).push([event.epoch, event.val_accuracy]);
      draw();
    }
  },
});
