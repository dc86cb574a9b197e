// The run page's step curves, from what the worker keeps (playground/worker.py): pure, the
// Node tests import it.
//
// Each point of `metrics.curve` is [step, loss, accuracy] where loss and accuracy are the
// means since the start of that step's epoch (playground/trainer.py resets them at each
// epoch). Drawn as they are, they jump at every epoch boundary: the first batches of an
// epoch weigh alone. Here they become a running mean over the last epoch's worth of
// steps, continuous across epochs, which at an epoch's end equals that epoch's mean.

/** Batches in an epoch of `n` pictures: the worker's rule (playground.trainer.batches),
 *  where a last batch of one picture joins the one before it. */
export function stepsPerEpoch(n, batchSize) {
  if (!n || !batchSize) return 1;
  const full = Math.ceil(n / batchSize);
  return batchSize > 1 && full > 1 && n % batchSize === 1 ? full - 1 : full;
}

/** The curve with each finished epoch's end added from its summary (`metrics.epochs`):
 *  the worker reports steps once per interval, so without them the curve stops at the
 *  last report, often well before the run's end. An epoch's train loss and accuracy are
 *  exactly the means since the epoch began, at its last step. */
export function withEpochEnds(curve, epochs, spe) {
  const have = new Set(curve.map((p) => p[0]));
  const ends = epochs.filter((e) => e.train_loss != null && !have.has(e.epoch * spe))
    .map((e) => [e.epoch * spe, e.train_loss, e.train_accuracy]);
  return [...curve, ...ends].sort((a, b) => a[0] - b[0]);
}

/** The curve as [[epoch (fractional), loss, accuracy], ...], each value the mean over the
 *  steps of the last epoch's length up to that point. */
export function runningCurve(curve, spe) {
  // 1. back from "mean since the epoch began" to the mean of each window between points
  const windows = [];
  let prev = null;
  for (const [step, loss, acc] of curve) {
    const epoch = Math.floor((step - 1) / spe);
    const into = step - epoch * spe;  // steps done in this epoch
    if (prev && prev.epoch === epoch && into > prev.into) {
      const n = into - prev.into;
      windows.push({ step, n, loss: (loss * into - prev.loss * prev.into) / n, acc: (acc * into - prev.acc * prev.into) / n });
    } else windows.push({ step, n: into, loss, acc });
    prev = { epoch, into, loss, acc };
  }
  // 2. the mean over the windows that end within the last `spe` steps, by their length
  const out = [];
  for (let i = 0, first = 0; i < windows.length; i++) {
    const w = windows[i];
    while (windows[first].step - windows[first].n < w.step - spe && first < i) first++;
    let n = 0, loss = 0, acc = 0;
    for (let j = first; j <= i; j++) {
      n += windows[j].n; loss += windows[j].loss * windows[j].n; acc += windows[j].acc * windows[j].n;
    }
    out.push([+(w.step / spe).toFixed(4), Math.max(0, loss / n), Math.min(1, Math.max(0, acc / n))]);
  }
  return out;
}

/** A run's gradient history ({names, points: [[step, [norm per layer | null]]]}) as one
 *  line over the layers: {names, points: [[layer index, geometric mean of its norms]]},
 *  layers without parameters (null) or without a positive norm left out. The compare
 *  page draws one such line per run: a deep sigmoid net's falls off toward layer 0. */
export function gradientsByLayer(g) {
  const names = (g && g.names) || [], history = (g && g.points) || [];
  const points = [];
  names.forEach((_, i) => {
    const logs = history.map((p) => p[1][i]).filter((v) => v != null && v > 0).map(Math.log10);
    if (logs.length) points.push([i, 10 ** (logs.reduce((a, b) => a + b, 0) / logs.length)]);
  });
  return { names, points };
}
