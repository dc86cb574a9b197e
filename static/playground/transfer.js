// The transfer-learning run page: accuracy against epochs and against pictures per class
// for each mode, and which layers train. Rows come from Job.metrics.transfer_rows (a
// reload) and the "transfer" events (live); "transfer_epoch" events move the curves.
import { formatCount, formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";

const MODE_COLOUR = { frozen: PALETTE[0], finetune: PALETTE[2], scratch: PALETTE[1] };
const MODE_NAME = { frozen: "frozen", finetune: "fine-tune", scratch: "scratch" };
const byEpoch = new LinePlot(document.getElementById("tl-epochs"), { xLabel: "epoch", yLabel: "accuracy", yMin: 0, yMax: 1 });
const bySize = new LinePlot(document.getElementById("tl-sizes"), { xLabel: "pictures per class", yLabel: "accuracy", yMin: 0, yMax: 1 });
const finished = new Map(); // "mode/size" -> row
const live = new Map(); // "mode/size" -> [[epoch, acc]]

export function seriesByEpoch(rows, running) {
  const series = [];
  for (const row of rows) {
    series.push({ name: `${MODE_NAME[row.mode]}, ${row.per_class || "all"}/class`, color: MODE_COLOUR[row.mode],
      dashed: row.mode !== "frozen", points: row.history.map((h) => [h.epoch, h.val_accuracy]) });
  }
  for (const [key, points] of running) {
    const [mode, size] = key.split("/");
    series.push({ name: `${MODE_NAME[mode]}, ${size || "all"}/class (training)`, color: MODE_COLOUR[mode], dashed: true, points });
  }
  return series;
}

export function seriesBySize(rows) {
  const modes = [...new Set(rows.map((r) => r.mode))];
  return modes.map((mode) => ({ name: MODE_NAME[mode], color: MODE_COLOUR[mode], points: rows
    .filter((r) => r.mode === mode).map((r) => [r.per_class || r.train_pictures, r.val_accuracy])
    .sort((a, b) => a[0] - b[0]) }));
}

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
