// A small SVG line plot for live curves (loss, accuracy, gradient norms).
// new LinePlot(el, {xLabel, yLabel, logY, yMin, yMax, xMin, xMax, xTick: (x) => text})
//   .update([{name, color, dash: "solid" | "dashed" | "dotted" (or dashed: true), points: [[x, y], ...]}])
// The range and ticks are pure functions, tested in tests/js/plot.test.mjs.
const NS = "http://www.w3.org/2000/svg";
const DASHES = { solid: "none", dashed: "4 3", dotted: "1.5 3" }; // SVG dash arrays; the legend uses the CSS names
export const PALETTE = ["#4f7cff", "#ff7a45", "#2bb673", "#c04fd6", "#e5b400", "#00a6c7", "#e0457b", "#7a8599"];

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round values from `lo` to `hi` for about `n` ticks: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / n));
  const mult = [1, 2, 5, 10].find((m) => (hi - lo) / (step * m) <= n) || 10;
  const s = step * mult, out = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-12; v += s) out.push(+v.toPrecision(6));
  return out;
}

/** Ticks of a log axis spanning log10 values `lo`..`hi`, as {at: log10 value, label}:
 * powers of ten when the range holds two or more, else 1-2-5 steps (a narrow range). */
export function logTicks(lo, hi) {
  const ticks = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (const m of [1, 2, 5]) {
      const at = k + Math.log10(m);
      if (at >= lo - 1e-9 && at <= hi + 1e-9) ticks.push({ at, label: m === 1 ? `1e${k}` : String(+(m * 10 ** k).toPrecision(2)), power: m === 1 });
    }
  }
  const powers = ticks.filter((t) => t.power);
  return (powers.length >= 2 ? powers : ticks).map(({ at, label }) => ({ at, label }));
}

/** The axes' extent {x0, x1, y0, y1} for these series (y in log10 when `logY`); never empty.
 *  The fixed bounds widen it; a flat series at `yMin` (all zeros) spans yMin..yMin+1. */
export function plotRange(series, { logY = false, yMin, yMax, xMin, xMax } = {}) {
  const ty = (y) => (logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const pts = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p[1])));
  let [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (pts.length) {
    [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
    [y0, y1] = [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))];
  }
  if (xMin !== undefined) x0 = pts.length ? Math.min(x0, xMin) : xMin;
  if (xMax !== undefined) x1 = pts.length ? Math.max(x1, xMax) : xMax;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 === y0 && y0 === yMin) y1 = y0 + 1;
  else if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  if (yMin !== undefined) y0 = Math.min(y0, yMin);
  if (yMax !== undefined) y1 = Math.max(y1, yMax);
  return { x0, x1, y0, y1 };
}

/** What a screen reader says for a plot: its axes and the names of its lines. */
export function plotLabel({ xLabel, yLabel }, series) {
  const axes = `${yLabel || "value"}${xLabel ? ` by ${xLabel}` : ""}`;
  const names = series.map((s) => s.name).filter(Boolean);
  return names.length ? `${axes}: ${names.join(", ")}` : `${axes}: no data yet`;
}

/** A series' line style: "solid", "dashed" or "dotted". */
export const lineStyle = (s) => (s.dash in DASHES ? s.dash : s.dashed ? "dashed" : "solid");

export class LinePlot {
  constructor(container, opts = {}) {
    this.c = container;
    this.opts = { width: 460, height: 220, ...opts };
    this.update([]);
  }

  update(series) {
    const { width: W, height: H, logY } = this.opts;
    // the y label sits in a band of its own above the top tick, never over it
    const m = { l: 48, r: 10, t: this.opts.yLabel ? 24 : 10, b: 30 };
    const ty = (y) => (logY ? Math.log10(Math.max(y, 1e-12)) : y);
    const { x0, x1, y0, y1 } = plotRange(series, this.opts);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": plotLabel(this.opts, series) });
    const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
    const Y = (y) => H - m.b - ((ty(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
    const yTicks = logY ? logTicks(y0, y1)
      : niceTicks(y0, y1, 4).map((t) => ({ at: t, label: String(+t.toPrecision(3)) }));
    for (const { at, label } of yTicks) {
      const y = H - m.b - ((at - y0) / (y1 - y0)) * (H - m.t - m.b);
      svg.append(el("line", { x1: m.l, x2: W - m.r, y1: y, y2: y, class: "grid" }));
      svg.append(el("text", { x: m.l - 4, y: y + 4, "text-anchor": "end", class: "tick" }, label));
    }
    for (const t of niceTicks(x0, x1, 5)) {
      svg.append(el("text", { x: X(t), y: H - m.b + 14, "text-anchor": "middle", class: "tick" }, (this.opts.xTick || String)(t)));
    }
    if (this.opts.xLabel) svg.append(el("text", { x: W - m.r, y: H - 2, "text-anchor": "end", class: "axis" }, this.opts.xLabel));
    if (this.opts.yLabel) svg.append(el("text", { x: 4, y: 12, class: "axis" }, this.opts.yLabel));
    if (Number.isFinite(this.opts.marker) && this.opts.marker >= x0 && this.opts.marker <= x1) {
      // a vertical line at x = marker (e.g. the step a scrubber points at)
      svg.append(el("line", { x1: X(this.opts.marker), x2: X(this.opts.marker), y1: m.t, y2: H - m.b, class: "marker" }));
    }
    series.forEach((s, i) => {
      const good = s.points.filter((p) => Number.isFinite(p[1]));
      if (!good.length) return;
      const d = good.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
      const color = s.color || PALETTE[i % PALETTE.length];
      svg.append(el("path", { d, class: "line", stroke: color, "stroke-dasharray": DASHES[lineStyle(s)] }));
      if (good.length === 1) svg.append(el("circle", { cx: X(good[0][0]), cy: Y(good[0][1]), r: 3, fill: color }));
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, i) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      // a short line in the series' colour and dash (CSSOM: allowed by the CSP)
      swatch.style.borderTop = `3px ${lineStyle(s)} ${s.color || PALETTE[i % PALETTE.length]}`;
      item.append(swatch, document.createTextNode(s.name));
      legend.append(item);
    });
    this.c.replaceChildren(svg, legend);
  }
}
