// The transfer-learning charts' series from the job's rows (pure: tests/js runs it).
import { PALETTE } from "../webapp/plot.js";

export const MODE_COLOUR = { frozen: PALETTE[0], finetune: PALETTE[2], scratch: PALETTE[1] };
export const MODE_NAME = { frozen: "frozen", finetune: "fine-tune", scratch: "scratch" };

/** One line per finished (mode, size) and per running one: validation accuracy by epoch. */
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

/** One line per mode: final accuracy against pictures per class (all pictures: their count). */
export function seriesBySize(rows) {
  const modes = [...new Set(rows.map((r) => r.mode))];
  return modes.map((mode) => ({ name: MODE_NAME[mode], color: MODE_COLOUR[mode], points: rows
    .filter((r) => r.mode === mode).map((r) => [r.per_class || r.train_pictures, r.val_accuracy])
    .sort((a, b) => a[0] - b[0]) }));
}

