// The X-ray of one picture: what YOLO computed before the final boxes, drawn over the
// letterboxed net input from the stored picture-NNN.xray.json (detection.xray) – no re-run.
// Layers: each scale's grid, its anchors at real size, its objectness heat map, every
// candidate before NMS at the page's confidence, the final boxes with the cell and anchor
// that produced them, an NMS step-through, and an IoU explorer with two boxes to drag.
import { classColour } from "./refilter.js";
import { iouParts, nmsSteps } from "./xraymath.js";

const SVG = "http://www.w3.org/2000/svg";
const SCALE_COLOURS = ["#4f7cff", "#e5a100", "#2bb673"];

function svg(name, attrs = {}, text = "") {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
}

function rect([x1, y1, x2, y2], attrs) {
  return svg("rect", { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), ...attrs });
}

function checkbox(label, checked, onChange, name) {
  const wrap = document.createElement("label");
  wrap.className = "det-check";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.checked = checked;
  input.dataset.layer = name;
  input.addEventListener("change", () => onChange(input.checked));
  wrap.append(input, document.createTextNode(` ${label}`));
  return wrap;
}

const sigmoid = (v) => 1 / (1 + Math.exp(-v));
const f2 = (v) => v.toFixed(2);

export class XrayView {
  /** entry: the picture's result entry; settings(): {conf, iou, classConf, allowed}. */
  constructor(entry, settings) {
    this.entry = entry;
    this.settings = settings;
    this.doc = null;
    // Per scale i the document brings, `grid${i}` and `heat${i}` are added in build().
    this.layers = { anchors: false, candidates: false, finals: true, nms: false };
    this.step = 0;
    this.selected = null; // candidate index whose decoding is explained
    this.element = document.createElement("section");
    this.element.className = "det-xray";
    this.element.hidden = true;
  }

  async toggle() {
    this.element.hidden = !this.element.hidden;
    if (!this.element.hidden && !this.doc) {
      this.element.textContent = "Loading the X-ray…";
      try {
        const resp = await fetch(this.entry.xray_url, { credentials: "same-origin" });
        if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
        this.doc = await resp.json();
      } catch (e) {
        this.element.textContent = `The X-ray could not be loaded: ${e.message || e}`;
        return;
      }
      this.build();
    }
    this.draw();
  }

  build() {
    const { heads } = this.doc;
    const controls = document.createElement("div");
    controls.className = "det-xray-layers";
    const set = (name) => (on) => { this.layers[name] = on; this.draw(); };
    heads.forEach((h, i) => {  // every scale of the model: two for the tiny ones, three for full size
      this.layers[`grid${i}`] ??= i === 0;
      this.layers[`heat${i}`] ??= false;
      controls.append(checkbox(`Grid ${h.grid[1]}×${h.grid[0]}`, this.layers[`grid${i}`], set(`grid${i}`), `grid${i}`));
      controls.append(checkbox(`Objectness ${h.grid[1]}×${h.grid[0]}`, this.layers[`heat${i}`], set(`heat${i}`), `heat${i}`));
    });
    controls.append(
      checkbox("Anchors", this.layers.anchors, set("anchors"), "anchors"),
      checkbox("Candidates before NMS", this.layers.candidates, set("candidates"), "candidates"),
      checkbox("Final boxes, their cell and anchor", this.layers.finals, set("finals"), "finals"),
      checkbox("NMS step by step", this.layers.nms, (on) => { this.layers.nms = on; this.step = 0; this.draw(); }, "nms"),
    );
    const [w, h] = this.doc.net;
    this.canvas = svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "det-xray-svg", role: "img",
                               "aria-label": `X-ray of ${this.entry.name} in the ${w}×${h} net input` });
    const nms = document.createElement("div");
    nms.className = "det-xray-nms";
    const prev = document.createElement("button");
    prev.type = "button";
    prev.className = "button small ghost";
    prev.textContent = "◀ Back";
    prev.addEventListener("click", () => { this.step = Math.max(0, this.step - 1); this.draw(); });
    const next = document.createElement("button");
    next.type = "button";
    next.className = "button small";
    next.textContent = "Next step ▶";
    next.dataset.role = "nms-next";
    next.addEventListener("click", () => { this.layers.nms = true; this.step += 1; this.draw(); });
    this.nmsText = document.createElement("span");
    this.nmsText.className = "det-xray-step";
    this.nmsText.setAttribute("aria-live", "polite");
    nms.append(prev, next, this.nmsText);
    this.explain = document.createElement("p");
    this.explain.className = "hint det-xray-explain";
    this.summary = document.createElement("p");
    this.summary.className = "hint det-xray-summary";
    this.element.replaceChildren(controls, this.canvas, nms, this.explain, this.summary, iouExplorer());
  }

  /** The candidates as the sliders see them and the NMS steps over them. */
  current() {
    const { conf, iou, classConf, allowed } = this.settings();
    const cands = this.doc.candidates.filter((c) => !allowed || allowed.has(c.class));
    const steps = nmsSteps(cands, conf, iou, classConf, "net_box");
    return { cands, steps, conf };
  }

  draw() {
    if (!this.doc || this.element.hidden) return;
    const { heads, net: [W, H], letterbox: lb } = this.doc;
    const { cands, steps } = this.current();
    const g = this.canvas;
    g.replaceChildren(svg("rect", { x: 0, y: 0, width: W, height: H, fill: "#808080" }));
    g.append(svg("image", { href: this.entry.url, x: lb.pad_x, y: lb.pad_y,
                            width: lb.width * lb.scale_x, height: lb.height * lb.scale_y,
                            preserveAspectRatio: "none" }));
    heads.forEach((head, i) => {
      const [rows, cols] = head.grid, [sx, sy] = head.stride;
      if (this.layers[`heat${i}`]) {
        const heat = svg("g", { class: "det-xray-heat", "data-scale": i });
        head.objectness.forEach((v, k) => {
          if (v < 0.01) return;
          heat.append(svg("rect", { x: (k % cols) * sx, y: Math.floor(k / cols) * sy, width: sx, height: sy,
                                    fill: "#e0455b", "fill-opacity": Math.min(0.85, Math.sqrt(v)) }));
        });
        g.append(heat);
      }
      if (this.layers[`grid${i}`]) {
        const lines = svg("g", { stroke: SCALE_COLOURS[i % 3], "stroke-width": 0.6, "stroke-opacity": 0.8, class: "det-xray-grid" });
        for (let c = 0; c <= cols; c++) lines.append(svg("line", { x1: c * sx, y1: 0, x2: c * sx, y2: H }));
        for (let r = 0; r <= rows; r++) lines.append(svg("line", { x1: 0, y1: r * sy, x2: W, y2: r * sy }));
        g.append(lines);
      }
    });
    if (this.layers.anchors) {
      heads.forEach((head, i) => head.anchors.forEach(([aw, ah]) => {
        g.append(rect([W / 2 - aw / 2, H / 2 - ah / 2, W / 2 + aw / 2, H / 2 + ah / 2],
          { fill: "none", stroke: SCALE_COLOURS[i % 3], "stroke-width": 1.5, "stroke-dasharray": "4 3", class: "det-xray-anchor" }));
      }));
    }
    if (this.layers.candidates) {
      const kept = new Set(steps.map((s) => s.keep));
      for (const s of steps) for (const x of s.suppressed) kept.add(x.index);
      for (const i of kept) {
        g.append(rect(cands[i].net_box, { fill: "none", stroke: classColour(cands[i].class_id),
                                          "stroke-width": 0.8, "stroke-opacity": 0.6, class: "det-xray-cand" }));
      }
    }
    if (this.layers.finals && !this.layers.nms) {
      for (const s of steps) this.drawFinal(cands[s.keep], heads);
    }
    if (this.layers.nms) this.drawStep(cands, steps);
    else this.nmsText.textContent = `${steps.length} box${steps.length === 1 ? "" : "es"} kept ` +
      `from ${steps.reduce((n, s) => n + 1 + s.suppressed.length, 0)} candidates at these settings.`;
    this.summary.textContent = `${this.doc.above_floor} anchor boxes scored at least ${this.doc.floor}` +
      (this.doc.above_floor > this.doc.candidates.length ? ` (the best ${this.doc.candidates.length} kept)` : "") +
      ` out of ${heads.reduce((n, h) => n + h.grid[0] * h.grid[1] * h.anchors.length, 0)} ` +
      `(${heads.map((h) => `${h.grid[1]}×${h.grid[0]}×${h.anchors.length}`).join(" + ")}).`;
    this.explainSelected(cands, heads);
  }

  drawFinal(c, heads) {
    const head = heads[c.head], [sx, sy] = head.stride, [aw, ah] = head.anchors[c.anchor];
    const colour = classColour(c.class_id);
    const cx = (c.col + 0.5) * sx, cy = (c.row + 0.5) * sy;
    const group = svg("g", { class: "det-xray-final", "data-id": c.id, "data-head": c.head,
                             "data-row": c.row, "data-col": c.col, "data-anchor": c.anchor });
    group.append(svg("rect", { x: c.col * sx, y: c.row * sy, width: sx, height: sy, fill: colour, "fill-opacity": 0.45, stroke: colour }));
    group.append(rect([cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2], { fill: "none", stroke: colour, "stroke-width": 1, "stroke-dasharray": "3 3" }));
    group.append(rect(c.net_box, { fill: "none", stroke: colour, "stroke-width": 2.5 }));
    group.append(svg("text", { x: c.net_box[0] + 2, y: Math.max(10, c.net_box[1] - 3), fill: colour, "font-size": 11 },
                     `${c.class} ${f2(c.score)}`));
    group.addEventListener("click", () => { this.selected = c.id; this.draw(); });
    this.canvas.append(group);
  }

  drawStep(cands, steps) {
    const n = steps.length;
    if (!n) { this.nmsText.textContent = "No candidate reaches the confidence."; return; }
    this.step = Math.min(this.step, n - 1);
    for (let k = 0; k < this.step; k++) {
      this.canvas.append(rect(cands[steps[k].keep].net_box, { fill: "none", stroke: "#fff", "stroke-width": 1.5, "stroke-opacity": 0.6 }));
    }
    const s = steps[this.step], kept = cands[s.keep];
    const colour = classColour(kept.class_id);
    for (const x of s.suppressed) {
      const d = cands[x.index];
      this.canvas.append(rect(d.net_box, { fill: "none", stroke: "#e0455b", "stroke-width": 1.5, "stroke-dasharray": "5 3", class: "det-xray-suppressed" }));
      this.canvas.append(svg("text", { x: d.net_box[0] + 2, y: d.net_box[3] - 3, fill: "#fff", "font-size": 10, stroke: "#000", "stroke-width": 0.3 },
                             `IoU ${f2(x.iou)}`));
    }
    this.canvas.append(rect(kept.net_box, { fill: "none", stroke: colour, "stroke-width": 3, class: "det-xray-kept" }));
    const ious = s.suppressed.map((x) => f2(x.iou)).join(", ");
    this.nmsText.textContent = `Step ${this.step + 1} of ${n}: keep ${kept.class} ${f2(kept.score)} (the best left); ` +
      (s.suppressed.length ? `it suppresses ${s.suppressed.length} ${kept.class} box${s.suppressed.length === 1 ? "" : "es"} (IoU ${ious}).`
                           : "it overlaps no other box of its class enough to suppress it.");
    this.selected = kept.id;
  }

  explainSelected(cands, heads) {
    const c = cands.find((d) => d.id === this.selected) || null;
    if (!c) { this.explain.textContent = "Click a final box to see how its cell and anchor made it."; return; }
    const head = heads[c.head], [sx, sy] = head.stride, [aw, ah] = head.anchors[c.anchor], s = head.scale_x_y;
    const [tx, ty, tw, th] = c.t;
    const ox = sigmoid(tx) * s - (s - 1) / 2, oy = sigmoid(ty) * s - (s - 1) / 2;
    this.explain.textContent = `${c.class} ${f2(c.score)} = objectness ${f2(c.objectness)} × p(${c.class}) ` +
      `${f2(c.score / c.objectness)}, from the ${head.grid[1]}×${head.grid[0]} grid, row ${c.row}, column ${c.col}, ` +
      `anchor ${c.anchor} (${aw}×${ah}): centre x = (${c.col} + σ(${f2(tx)})) × ${sx} = ${f2((c.col + ox) * sx)}, ` +
      `y = (${c.row} + σ(${f2(ty)})) × ${sy} = ${f2((c.row + oy) * sy)}, ` +
      `width = ${aw} × e^${f2(tw)} = ${f2(aw * Math.exp(tw))}, height = ${ah} × e^${f2(th)} = ${f2(ah * Math.exp(th))} net pixels.`;
  }
}

// ------------------------------------------------------------------ IoU explorer

function iouExplorer() {
  const box = document.createElement("div");
  box.className = "det-iou";
  const title = document.createElement("b");
  title.textContent = "IoU explorer: drag the boxes";
  const area = svg("svg", { viewBox: "0 0 200 140", class: "det-iou-svg" });
  const out = document.createElement("output");
  out.className = "det-iou-out";
  const boxes = [[30, 30, 110, 100], [80, 50, 170, 120]];
  const colours = ["#4f7cff", "#e5a100"];
  const draw = () => {
    const { intersection, union, iou } = iouParts(boxes[0], boxes[1]);
    area.replaceChildren();
    boxes.forEach((b, i) => {
      const r = rect(b, { fill: colours[i], "fill-opacity": 0.25, stroke: colours[i], "stroke-width": 2, class: "det-iou-box", "data-i": i });
      r.addEventListener("pointerdown", (e) => start(e, i));
      area.append(r);
    });
    const ix = [Math.max(boxes[0][0], boxes[1][0]), Math.max(boxes[0][1], boxes[1][1]),
                Math.min(boxes[0][2], boxes[1][2]), Math.min(boxes[0][3], boxes[1][3])];
    if (intersection > 0) area.append(rect(ix, { fill: "#e0455b", "fill-opacity": 0.5, "pointer-events": "none" }));
    out.textContent = `intersection ${Math.round(intersection)} · union ${Math.round(union)} · IoU ${iou.toFixed(3)}`;
  };
  const start = (e, i) => {
    e.preventDefault();
    const m = area.getScreenCTM().inverse();
    const at = (ev) => { const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m); return [p.x, p.y]; };
    let [px, py] = at(e);
    const move = (ev) => {
      const [x, y] = at(ev);
      const b = boxes[i], w = b[2] - b[0], h = b[3] - b[1];
      const nx = Math.min(200 - w, Math.max(0, b[0] + x - px)), ny = Math.min(140 - h, Math.max(0, b[1] + y - py));
      boxes[i] = [nx, ny, nx + w, ny + h];
      px = x; py = y;
      draw();
    };
    const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };
  draw();
  box.append(title, area, out);
  return box;
}
