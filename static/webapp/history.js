// The dashboard's history charts as plot series, from what webapp.dashboard.dashboard_history
// sends. Pure: the Node tests import it.

/** x of a bucket: how long before `nowS` it started, in minutes (an hour's window) or
 *  hours (a day's), negative so that time runs left to right; with the unit's name for
 *  the axis and the tick text, which counts back without a minus ("40 minutes ago"). */
export function timeAxis(history, nowS) {
  const unit = history.window === "day" ? 3600 : 60;
  return {
    label: unit === 60 ? "minutes ago" : "hours ago",
    x: (t) => +((t - nowS) / unit).toFixed(3),
    tick: (v) => (v === 0 ? "now" : String(Math.abs(v))),
  };
}

const points = (xs, values, scale = 1) =>
  values.map((v, i) => [xs[i], v == null ? NaN : v * scale]);

/** {finished, depth, wait, run}: each a list of {name, points, dashed?} for LinePlot. */
export function historySeries(history, nowS) {
  const { x } = timeAxis(history, nowS);
  const xs = history.times.map(x);
  const perMinute = 60 / history.step_s;  // a bucket's count as jobs per minute
  const finished = Object.entries(history.finished).map(([kind, counts]) => ({ name: kind, points: points(xs, counts, perMinute) }));
  if (!finished.length) finished.push({ name: "none finished", points: xs.map((v) => [v, 0]) });
  return {
    finished,
    depth: Object.entries(history.queue_depth).map(([queue, n]) => ({ name: queue, points: points(xs, n) })),
    wait: [
      { name: "median", points: points(xs, history.wait_p50) },
      { name: "p95", points: points(xs, history.wait_p95), dashed: true },
    ],
    run: [
      { name: "median", points: points(xs, history.run_p50) },
      { name: "p95", points: points(xs, history.run_p95), dashed: true },
    ],
  };
}
