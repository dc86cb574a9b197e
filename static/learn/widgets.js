// The lessons' in-page widgets, each mounted by name into the lesson's #widget panel.
// The arithmetic is in convolution.js and formulas.js (pure, tested); this file draws.

import { make } from "../webapp/dom.js";
import { KERNELS, builtinPicture, convolve, outputSize, parseKernel, patchAt, samePadding,
         toDisplay, toGrey } from "./convolution.js";
import { convParams, denseParams, normalise, receptiveFields, scientific,
         separableCost } from "./formulas.js";

const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 3 : 1));

function numberInput(label, value, { min = 0, max = 10000, name } = {}) {
  const input = make("input", { type: "number", value: String(value), min: String(min), max: String(max) });
  input.name = name || label;
  return [make("label", { className: "inline-field" }, label, input), input];
}

const read = (input) => Number(input.value);

/** Draw rows of 0..255 values on a canvas, `cell` pixels a value; returns the canvas. */
function drawGrid(canvas, rows, cell) {
  canvas.width = rows[0].length * cell;
  canvas.height = rows.length * cell;
  const g = canvas.getContext("2d");
  rows.forEach((row, y) => row.forEach((v, x) => {
    g.fillStyle = `rgb(${v},${v},${v})`;
    g.fillRect(x * cell, y * cell, cell, cell);
  }));
  return g;
}

/** A picture file read in the page (nothing is uploaded), shrunk to `side` pixels wide. */
async function pictureRows(file, side) {
  const bitmap = await createImageBitmap(file);
  const height = Math.max(1, Math.round((side * bitmap.height) / bitmap.width));
  const canvas = make("canvas", { width: side, height });
  const g = canvas.getContext("2d");
  g.drawImage(bitmap, 0, 0, side, height);
  return toGrey(g.getImageData(0, 0, side, height).data, side, height);
}

function productTable(kernel, found) {
  const body = found.patch.map((row, a) => make("tr", {}, ...row.map((v, b) => make("td", {},
    make("span", { className: "pix", textContent: fmt(v) }), " × ",
    make("span", { className: "wt", textContent: fmt(kernel[a][b]) }), " = ",
    make("strong", { textContent: fmt(found.products[a][b]) })))));
  return make("table", { className: "products" }, make("tbody", {}, ...body));
}

function mountConv(root, options) {
  const state = { image: builtinPicture(24), kernel: KERNELS[options.kernel || "vertical"].rows };
  const kernelSelect = make("select", { name: "kernel" },
    ...Object.entries(KERNELS).map(([k, v]) => make("option", { value: k, textContent: v.label })),
    make("option", { value: "custom", textContent: "Type one…" }));
  kernelSelect.value = options.kernel || "vertical";
  const typed = make("textarea", { name: "typed", rows: 3, cols: 18, hidden: true, value: "0 1 0; 1 -4 1; 0 1 0" });
  const padding = make("select", { name: "padding" }, make("option", { value: "valid", textContent: "valid (p = 0)" }),
    make("option", { value: "same", textContent: "same (p = (f − 1)/2)" }));
  const stride = make("select", { name: "stride" }, ...[1, 2, 3].map((s) => make("option", { value: String(s), textContent: String(s) })));
  const file = make("input", { type: "file", accept: "image/*", name: "picture" });
  const error = make("p", { className: "field-error", hidden: true });
  const size = make("p", { className: "size", id: "conv-size" });
  const input = make("canvas", { className: "grid", id: "conv-input" });
  const output = make("canvas", { className: "grid", id: "conv-output" });
  const readout = make("div", { className: "readout", id: "conv-readout" },
    make("p", { className: "muted small", textContent: "Hover a pixel of the output." }));
  root.append(
    make("div", { className: "controls" },
      make("label", { className: "inline-field" }, "Kernel", kernelSelect), typed,
      make("label", { className: "inline-field" }, "Padding", padding),
      make("label", { className: "inline-field" }, "Stride", stride),
      make("label", { className: "inline-field" }, "Your own picture (stays in this page)", file)),
    error, size,
    make("div", { className: "conv-row" },
      make("figure", {}, input, make("figcaption", { textContent: "input (grey)" })),
      make("figure", {}, output, make("figcaption", { textContent: "output" })), readout));

  const cell = 10;
  let map = null, settings = null;
  function redraw() {
    error.hidden = true;
    try {
      state.kernel = kernelSelect.value === "custom" ? parseKernel(typed.value) : KERNELS[kernelSelect.value].rows;
      const f = state.kernel.length;
      const p = padding.value === "same" ? samePadding(f) : 0;
      const s = Number(stride.value);
      settings = { padding: p, stride: s };
      map = convolve(state.image, state.kernel, settings);
      const n = state.image[0].length, h = state.image.length;
      size.textContent = `${h}×${n} input, ${f}×${f} kernel, p = ${p}, s = ${s}: ` +
        `⌊(${n} + 2·${p} − ${f})/${s}⌋ + 1 = ${outputSize(n, f, p, s)} → output ${map.length}×${map[0].length}`;
      size.dataset.out = `${map.length}x${map[0].length}`;
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
      return;
    }
    drawGrid(input, state.image, cell);
    drawGrid(output, toDisplay(map), cell * settings.stride);
  }
  output.addEventListener("mousemove", (event) => {
    if (!map) return;
    const box = output.getBoundingClientRect();
    const j = Math.floor(((event.clientX - box.left) / box.width) * map[0].length);
    const i = Math.floor(((event.clientY - box.top) / box.height) * map.length);
    if (i < 0 || j < 0 || i >= map.length || j >= map[0].length) return;
    const found = patchAt(state.image, state.kernel, settings, i, j);
    const g = drawGrid(input, state.image, cell);
    g.strokeStyle = "#ff3b5c"; g.lineWidth = 2;
    g.strokeRect(found.left * cell, found.top * cell, state.kernel.length * cell, state.kernel.length * cell);
    readout.replaceChildren(
      make("p", {}, `output (${i}, ${j}) = sum of the products:`),
      productTable(state.kernel, found),
      make("p", { className: "sum" }, "sum = ", make("strong", { id: "conv-sum", textContent: fmt(found.sum) }),
        make("span", { className: "muted", textContent: `  (the map's value there: ${fmt(map[i][j])})` })));
    readout.dataset.at = `${i},${j}`;
  });
  kernelSelect.addEventListener("change", () => { typed.hidden = kernelSelect.value !== "custom"; redraw(); });
  for (const el of [typed, padding, stride]) el.addEventListener("input", redraw);
  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    try {
      state.image = await pictureRows(file.files[0], 32);
      redraw();
    } catch {
      error.textContent = "This file cannot be read as a picture; the built-in one stays.";
      error.hidden = false;
    }
  });
  redraw();
}

function mountOutsize(root, options) {
  const [nl, n] = numberInput("n (input side)", options.n ?? 7, { min: 1, name: "n" });
  const [fl, f] = numberInput("f (kernel)", options.f ?? 3, { min: 1, name: "f" });
  const [pl, p] = numberInput("p (padding)", options.p ?? 0, { min: 0, name: "p" });
  const [sl, s] = numberInput("s (stride)", options.s ?? 2, { min: 1, name: "s" });
  const same = make("button", { type: "button", className: "button small ghost", textContent: "same padding" });
  const out = make("p", { className: "big", id: "outsize-result" });
  root.append(make("div", { className: "controls" }, nl, fl, pl, sl, same), out);
  function redraw() {
    try {
      const m = outputSize(read(n), read(f), read(p), read(s));
      out.textContent = `⌊(${n.value} + 2·${p.value} − ${f.value})/${s.value}⌋ + 1 = ${m}`;
      out.dataset.value = String(m);
    } catch (exc) {
      out.textContent = exc.message;
      out.dataset.value = "";
    }
  }
  same.addEventListener("click", () => {
    try { p.value = String(samePadding(read(f))); s.value = "1"; } catch (exc) { out.textContent = exc.message; return; }
    redraw();
  });
  for (const el of [n, f, p, s]) el.addEventListener("input", redraw);
  redraw();
}

function mountParams(root, options) {
  if (options.mode === "course") {
    const [sidel, side] = numberInput("picture side (in and out)", 300, { min: 1, name: "side" });
    const [fl, f] = numberInput("kernel f", 5, { min: 1, name: "f" });
    const conv = make("td", { id: "params-conv" }), dense = make("td", { id: "params-dense" });
    root.append(make("div", { className: "controls" }, sidel, fl),
      make("table", { className: "observed" }, make("tbody", {},
        make("tr", {}, make("th", { textContent: "conv layer: one f×f kernel and a bias" }), conv),
        make("tr", {}, make("th", { textContent: "dense layer: every input pixel to every output pixel" }), dense))));
    const redraw = () => {
      const n = read(side);
      conv.textContent = convParams(read(f), 1, 1).toLocaleString("en-US");
      const d = denseParams(n, n, 1, n, n, 1);
      dense.textContent = `${scientific(d.weights)} weights (+ ${d.biases.toLocaleString("en-US")} biases)`;
    };
    for (const el of [side, f]) el.addEventListener("input", redraw);
    return redraw();
  }
  const [fl, f] = numberInput("kernel f", options.f ?? 3, { min: 1, name: "f" });
  const [cl, c] = numberInput("input channels c_in", options.cin ?? 3, { min: 1, name: "cin" });
  const [kl, k] = numberInput("kernels k", options.k ?? 10, { min: 1, name: "k" });
  const out = make("p", { className: "big", id: "params-volume" });
  root.append(make("div", { className: "controls" }, fl, cl, kl), out);
  const redraw = () => {
    out.textContent = `(${f.value}·${f.value}·${c.value} + 1)·${k.value} = ` +
      convParams(read(f), read(c), read(k)).toLocaleString("en-US") + " parameters, for any picture size";
  };
  for (const el of [f, c, k]) el.addEventListener("input", redraw);
  redraw();
}

function mountSeparable(root) {
  const [nl, n] = numberInput("input side n", 6, { min: 1, name: "n" });
  const [cl, c] = numberInput("input channels", 3, { min: 1, name: "c" });
  const [fl, f] = numberInput("kernel f", 3, { min: 1, name: "f" });
  const [kl, k] = numberInput("output channels n_c'", 5, { min: 1, name: "k" });
  const table = make("tbody", {});
  const error = make("p", { className: "field-error", hidden: true });
  root.append(make("div", { className: "controls" }, nl, cl, fl, kl), error,
    make("table", { className: "observed", id: "separable" }, table));
  const redraw = () => {
    error.hidden = true;
    let cost;
    try { cost = separableCost(read(n), read(c), read(f), read(k)); } catch (exc) {
      error.textContent = exc.message; error.hidden = false; return;
    }
    const row = (label, value, id) => make("tr", {}, make("th", { textContent: label }), make("td", { id, textContent: value }));
    table.replaceChildren(
      row(`normal conv (${cost.out}×${cost.out}×${k.value} out)`, cost.normal.toLocaleString("en-US"), "sep-normal"),
      row("depthwise (one filter per channel)", cost.depthwise.toLocaleString("en-US"), "sep-depthwise"),
      row("pointwise (1×1 to n_c')", cost.pointwise.toLocaleString("en-US"), "sep-pointwise"),
      row("separable in all", cost.separable.toLocaleString("en-US"), "sep-total"),
      row("ratio separable / normal", cost.ratio.toFixed(4), "sep-ratio"),
      row("1/n_c' + 1/f²", cost.formula.toFixed(4), "sep-formula"));
  };
  for (const el of [n, c, f, k]) el.addEventListener("input", redraw);
  redraw();
}

function mountReceptive(root) {
  const layers = [{ k: 3, s: 1, label: "3×3 conv" }, { k: 3, s: 1, label: "3×3 conv" }];
  const table = make("tbody", {});
  const buttons = [["+ 3×3 conv", { k: 3, s: 1, label: "3×3 conv" }], ["+ 5×5 conv", { k: 5, s: 1, label: "5×5 conv" }],
    ["+ 2×2 pool (stride 2)", { k: 2, s: 2, label: "2×2 pool" }]].map(([text, layer]) => {
    const b = make("button", { type: "button", className: "button small ghost", textContent: text });
    b.addEventListener("click", () => { if (layers.length < 20) layers.push(layer); redraw(); });
    return b;
  });
  const remove = make("button", { type: "button", className: "button small ghost", textContent: "remove the last" });
  remove.addEventListener("click", () => { layers.pop(); redraw(); });
  root.append(make("div", { className: "controls" }, ...buttons, remove),
    make("table", { className: "observed", id: "receptive" },
      make("thead", {}, make("tr", {}, ...["layer", "type", "sees (pixels)", "step between units"].map((t) => make("th", { textContent: t })))), table));
  const redraw = () => {
    const fields = receptiveFields(layers);
    table.replaceChildren(...layers.map((layer, i) => make("tr", {}, make("td", { textContent: String(i + 1) }),
      make("td", { textContent: layer.label }), make("td", { className: "rf", textContent: `${fields[i].rf}×${fields[i].rf}` }),
      make("td", { textContent: String(fields[i].jump) }))));
  };
  redraw();
}

function mountNormalise(root) {
  const slider = make("input", { type: "range", min: "0", max: "255", value: "51", name: "pixel" });
  const out = make("p", { className: "big", id: "normalise-result" });
  root.append(make("label", {}, "pixel value", slider), out);
  const redraw = () => { out.textContent = `${slider.value}/255 − 0.5 = ${normalise(read(slider)).toFixed(3)}`; };
  slider.addEventListener("input", redraw);
  redraw();
}

export const WIDGETS = { conv: mountConv, outsize: mountOutsize, params: mountParams,
                         separable: mountSeparable, receptive: mountReceptive, normalise: mountNormalise };
