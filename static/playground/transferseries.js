// The transfer-learning charts' series from the job's rows (pure: tests/js runs it).
import { PALETTE } from "../webapp/plot.js";

export const MODE_COLOUR = { frozen: PALETTE[0], finetune: PALETTE[2], scratch: PALETTE[1] };
export const MODE_NAME = { frozen: "frozen", finetune: "fine-tune", scratch: "scratch" };

const DASH_BY_SIZE = ["solid", "dashed", "dotted"];

/** One line per finished (mode, size) and per running one: validation accuracy by epoch.
 *  The colour tells the mode and the dash the pictures per class, so no two lines match. */
export function seriesByEpoch(rows, running) {
  const sizes = [...new Set([...rows.map((r) => Number(r.per_class || 0)),
    ...[...running.keys()].map((k) => Number(k.split("/")[1] || 0))])].sort((a, b) => a - b);
  const dash = (size) => DASH_BY_SIZE[sizes.indexOf(Number(size || 0)) % DASH_BY_SIZE.length];
  const series = [];
  for (const row of rows) {
    series.push({ name: `${MODE_NAME[row.mode]}, ${row.per_class || "all"}/class`, color: MODE_COLOUR[row.mode],
      dash: dash(row.per_class), points: row.history.map((h) => [h.epoch, h.val_accuracy]) });
  }
  for (const [key, points] of running) {
    const [mode, size] = key.split("/");
    series.push({ name: `${MODE_NAME[mode]}, ${size || "all"}/class (training)`, color: MODE_COLOUR[mode], dash: dash(size), points });
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

