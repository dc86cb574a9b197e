// The live view of the tasks beyond classification (playground/objectives.py's "task" event,
// one per epoch): boxes and landmarks drawn over validation pictures, predicted masks
// beside the truth with per-class IoU, and for verification the 2-D projection of the
// embeddings, the same/different distance histograms with the threshold, the ROC and a
// one-shot demo. Pictures come drawn from the server; charts are drawn here as SVG.
import { formatNumber, formatPercent } from "../webapp/format.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
function figure(src, caption, cls) {
  const f = el("figure", cls ? { class: cls } : {});
  const img = el("img", { class: "pix", src, alt: caption });
  f.append(img, el("figcaption", {}, caption));
  return f;
}

/** What one task event says in a sentence (the panel's headline). */
export function taskHeadline(ev) {
  const n = (ev.items || ev.gallery || []).length;
  switch (ev.task) {
    case "localise": return `Mean IoU ${formatNumber(ev.value, 3)} on the validation scenes. Green: the true box, red: the predicted one (${n} shown).`;
    case "landmarks": return `Mean point error ${formatNumber(ev.value, 3)} px (${ev.classes.map((c, i) => `${c} ${formatNumber(ev.per_point[i], 2)}`).join(" · ")}). Green circles: truth, red crosses: predictions.`;
    case "segment": return `Mean IoU ${formatNumber(ev.value, 3)} over the classes present; each row: picture, true mask, predicted mask.`;
    case "verify": return `On classes never trained on (${[...new Set(ev.gallery.map((g) => ev.classes[g.label]))].join(", ")}): pair accuracy ${formatPercent(ev.pair_accuracy)} at threshold ${formatNumber(ev.threshold, 3)} (${ev.distance}), ROC AUC ${formatNumber(ev.value, 3)}.`;
    default: return "";
  }
}

/** Draw the latest task event `ev` into `root`. */
export function drawTask(root, ev) {
  const parts = [el("p", { class: "hint", id: "task-headline" }, taskHeadline(ev))];
  if (ev.task === "localise") {
    const row = el("div", { class: "pg-taskview" });
    row.append(...ev.items.map((it) => figure(it.image,
      `${ev.classes[it.label]} → ${ev.classes[it.predicted]} · IoU ${formatNumber(it.iou, 2)}`,
      it.label !== it.predicted || it.iou < 0.5 ? "wrong" : "")));
    parts.push(row);
  } else if (ev.task === "landmarks") {
    const row = el("div", { class: "pg-taskview" });
    row.append(...ev.items.map((it) => figure(it.image, `error ${formatNumber(it.error, 2)} px`)));
    parts.push(row);
  } else if (ev.task === "segment") {
    parts.push(segmentLegend(ev));
    const row = el("div", { class: "pg-taskview" });
    row.append(...ev.items.map((it) => {
      const f = el("figure");
      const trio = el("div", { class: "pg-maskrow" });
      trio.append(el("img", { class: "pix", src: it.image, alt: "picture" }),
        el("img", { class: "pix", src: it.truth, alt: "true mask" }),
        el("img", { class: "pix", src: it.predicted, alt: "predicted mask" }));
      f.append(trio, el("figcaption", {}, `pixels right ${formatPercent(it.pixel_accuracy)}`));
      return f;
    }));
    parts.push(row);
  } else if (ev.task === "verify") {
    parts.push(...verifyParts(ev));
  }
  root.replaceChildren(...parts);
  if (ev.task === "verify") {
    new LinePlot(root.querySelector("#task-roc"), { xLabel: "false accepts (different called same)", yLabel: "true accepts", yMin: 0, yMax: 1 })
      .update([{ name: "ROC", points: ev.roc }, { name: "chance", points: [[0, 0], [1, 1]], dashed: true }]);
  }
}

function segmentLegend(ev) {
  const legend = el("p", { class: "pg-legend", id: "task-class-iou" });
  ev.classes.forEach((name, i) => {
    const span = el("span");
    const swatch = el("i");
    swatch.style.background = ev.colours[i];
    const iou = ev.class_iou[i];
    span.append(swatch, document.createTextNode(`${name}: IoU ${iou == null ? "–" : formatNumber(iou, 3)}`));
    legend.append(span);
  });
  return legend;
}

// ---- verification ------------------------------------------------------------------
function verifyParts(ev) {
  const grid = el("div", { class: "pg-verify-grid" });
  const scatter = el("div");
  scatter.append(el("h3", {}, "Embeddings in 2-D (PCA)"), projectionSvg(ev),
    el("p", { class: "hint" }, "Dots: trained classes; rings: held-out classes the net never saw. Training pulls each class together and the classes apart."));
  const hist = el("div");
  hist.append(el("h3", {}, "Pair distances"), histogramSvg(ev),
    el("p", { class: "hint" }, `Held-out pairs: same class (green) and different (red). Left of the line is called “same”.`));
  const roc = el("div");
  roc.append(el("h3", {}, "ROC on held-out pairs"), el("div", { id: "task-roc" }));
  grid.append(scatter, hist, roc);
  const demo = el("div");
  demo.append(el("h3", {}, "One-shot: pick a reference picture"),
    el("p", { class: "hint", id: "oneshot-note" }, "Click a picture of an unseen class: the others it calls “same” are outlined in blue."));
  const gallery = el("div", { class: "pg-taskview", id: "oneshot" });
  ev.gallery.forEach((g, k) => {
    const f = figure(g.image, ev.classes[g.label]);
    f.dataset.k = k;
    f.tabIndex = 0;
    f.addEventListener("click", () => oneShot(ev, gallery, k));
    f.addEventListener("keydown", (e) => { if (e.key === "Enter") oneShot(ev, gallery, k); });
    gallery.append(f);
  });
  demo.append(gallery);
  return [grid, demo];
}

/** Mark which gallery pictures the net calls the same as picture `ref`. */
export function oneShot(ev, gallery, ref) {
  const scores = ev.gallery_scores[ref];
  let right = 0;
  [...gallery.children].forEach((f, k) => {
    const same = scores[k] <= ev.threshold;
    f.className = k === ref ? "pick" : same ? "match" : "nomatch";
    f.querySelector("figcaption").textContent = k === ref ? `reference (${ev.classes[ev.gallery[k].label]})`
      : `${ev.classes[ev.gallery[k].label]} · ${formatNumber(scores[k], 3)}`;
    if (k !== ref && same === (ev.gallery[k].label === ev.gallery[ref].label)) right += 1;
  });
  gallery.parentElement.querySelector("#oneshot-note").textContent =
    `${right} of ${ev.gallery.length - 1} pictures judged right against this one reference (threshold ${formatNumber(ev.threshold, 3)}).`;
}

function projectionSvg(ev) {
  const W = 320, H = 260, pad = 10;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "pg-svg", id: "task-projection", role: "img", "aria-label": "embeddings projected to 2-D" });
  const xs = ev.projection.map((p) => p[0]), ys = ev.projection.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  for (const [x, y, c, held] of ev.projection) {
    const colour = PALETTE[c % PALETTE.length];
    root.append(svg("circle", held
      ? { cx: sx(x), cy: sy(y), r: 3.2, fill: "none", stroke: colour, "stroke-width": 1.4, "data-class": c }
      : { cx: sx(x), cy: sy(y), r: 2.2, fill: colour, opacity: 0.7, "data-class": c }));
  }
  const classes = [...new Set(ev.projection.map((p) => p[2]))].sort((a, b) => a - b);
  classes.forEach((c, i) => {
    const t = svg("text", { x: pad + i * 28, y: 12, fill: PALETTE[c % PALETTE.length], "font-size": 11 });
    t.textContent = ev.classes[c];
    root.append(t);
  });
  return root;
}

function histogramSvg(ev) {
  const W = 320, H = 200, pad = 22;
  const { edges, same, different } = ev.histogram;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "pg-svg", id: "task-histogram", role: "img", "aria-label": "histograms of pair distances" });
  const share = (counts) => { const n = counts.reduce((a, b) => a + b, 0) || 1; return counts.map((v) => v / n); };
  const s = share(same), d = share(different);
  const top = Math.max(...s, ...d, 1e-9);
  const lo = edges[0], hi = edges[edges.length - 1];
  const sx = (v) => pad + ((v - lo) / (hi - lo || 1)) * (W - 2 * pad);
  const sy = (v) => H - pad - (v / top) * (H - 2 * pad);
  for (const [values, colour] of [[d, "#e0457b"], [s, "#2bb673"]]) {
    values.forEach((v, i) => {
      root.append(svg("rect", { x: sx(edges[i]), y: sy(v), width: Math.max(1, sx(edges[i + 1]) - sx(edges[i]) - 1),
        height: H - pad - sy(v), fill: colour, opacity: 0.55 }));
    });
  }
  const t = sx(Math.min(hi, Math.max(lo, ev.threshold)));
  root.append(svg("line", { x1: t, x2: t, y1: pad / 2, y2: H - pad, stroke: "#333", "stroke-dasharray": "4 3", id: "task-threshold" }));
  for (const [v, anchor] of [[lo, "start"], [hi, "end"]]) {
    const label = svg("text", { x: sx(v), y: H - 6, "font-size": 10, "text-anchor": anchor, fill: "#666" });
    label.textContent = formatNumber(v, 2);
    root.append(label);
  }
  const label = svg("text", { x: t + 3, y: pad, "font-size": 10, fill: "#333" });
  label.textContent = `threshold ${formatNumber(ev.threshold, 3)}`;
  root.append(label);
  return root;
}
