// The region painter of the new-job form: brush, eraser and fill over the photo, a split
// by colour to start from, and per region its style (or none) and strength. On submit
// the label map goes as a grey PNG (`labels`) and the regions as JSON (`regions`).
import { $, make, readJSON } from "../webapp/dom.js";
import {
  REGION_COLOURS, colourLabels, floodFill, fromGreyRGBA, labelMap, paintLine, splitByColour, toGreyRGBA,
  unusedStyles, usedRegions,
} from "./regions.js";

const PAGE = readJSON("st-page");
const WORK_SIDE = 512; // the map's longest side: the engine resizes it to each level
const form = $("st-form");
const canvas = $("st-canvas");
const draw = canvas.getContext("2d");
const state = {
  on: false, map: null, photo: null, regions: [], current: 1, stroke: null,
};

/** The styles the form will send, in the server's order: uploads, gallery, earlier job's. */
function styleNames() {
  const name = (box) => box.closest(".st-item").querySelector(".st-name").textContent;
  return [
    ...[...$("id_styles").files].map((f) => f.name),
    ...[...form.querySelectorAll("input[name=gallery]:checked")].map(name),
    ...[...form.querySelectorAll("input[name=reuse_style]:checked")].map(name),
  ];
}

function render() {
  if (!state.map || !state.photo) return;
  const { width, height } = state.map;
  draw.globalAlpha = 1;
  draw.drawImage(state.photo, 0, 0, width, height);
  const overlay = new ImageData(colourLabels(state.map, { alpha: 120, baseAlpha: 40 }), width, height);
  const layer = new OffscreenCanvas(width, height);
  layer.getContext("2d").putImageData(overlay, 0, 0);
  draw.drawImage(layer, 0, 0);
  renderList();
}

function renderList() {
  const names = styleNames();
  const used = new Set(usedRegions(state.map));
  const rows = state.regions.map((region, i) => {
    const pick = make("input", { type: "radio", name: "st-current", checked: i === state.current, title: "paint this region" });
    pick.addEventListener("change", () => { state.current = i; });
    const swatch = make("span", { className: "st-swatch" });
    swatch.style.background = REGION_COLOURS[i % REGION_COLOURS.length];
    const style = make("select", { "aria-label": `style of region ${i + 1}` });
    style.append(make("option", { value: "", textContent: "none – keep the photo" }));
    names.forEach((name, s) => style.append(make("option", { value: String(s), textContent: `${s + 1}. ${name}` })));
    style.value = region.style === null || region.style >= names.length ? "" : String(region.style);
    style.addEventListener("change", () => { region.style = style.value === "" ? null : Number(style.value); save(); });
    const strength = make("input", { type: "number", min: "0", max: String(PAGE.max_strength), step: "any", value: String(region.strength) });
    strength.setAttribute("aria-label", `strength of region ${i + 1}`);
    strength.addEventListener("input", () => { region.strength = Number(strength.value); save(); });
    const label = make("label", { className: "st-inline" }, pick, swatch, ` ${i + 1}`);
    return make("tr", {}, make("td", {}, label), make("td", { className: "muted small", textContent: used.has(i) ? "yes" : "–" }),
      make("td", {}, style), make("td", {}, strength));
  });
  $("st-region-list").replaceChildren(...rows);
  const unused = unusedStyles(state.map, state.regions, names.length);
  $("st-unused-styles").hidden = !unused.length;
  $("st-unused-styles").textContent = unused.length
    ? `No painted region uses ${unused.map((s) => `style ${s + 1} (${names[s]})`).join(", ")}: `
      + "it will not show in the picture. Give it to a region, or leave it out."
    : "";
  $("st-add-region").disabled = state.regions.length >= PAGE.max_regions;
}

function save() {
  $("id_regions").value = state.on ? JSON.stringify(state.regions) : $("id_regions").value;
}

function startMap(width, height) {
  state.map = labelMap(width, height);
  canvas.width = width;
  canvas.height = height;
}

/** Load the photo to paint on: the chosen file, else the earlier job's photo. */
function loadPhoto() {
  const file = $("id_content").files[0];
  const earlier = document.querySelector(".st-reuse img");
  const source = file ? URL.createObjectURL(file) : $("id_reuse_content")?.checked && earlier ? earlier.src : "";
  if (!source) { canvas.hidden = true; $("st-painter-wait").hidden = false; return; }
  const img = new Image();
  img.onload = () => {
    const scale = Math.min(1, WORK_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
    const width = Math.max(1, Math.round(img.naturalWidth * scale));
    const height = Math.max(1, Math.round(img.naturalHeight * scale));
    state.photo = img;
    if (!state.map || state.map.width !== width || state.map.height !== height) startMap(width, height);
    canvas.hidden = false;
    $("st-painter-wait").hidden = true;
    render();
    if ($("id_reuse_regions")?.checked && PAGE.earlier_labels && !state.loadedEarlier) loadEarlier();
  };
  img.src = source;
}

/** The earlier job's regions into the map (run again). */
function loadEarlier() {
  state.loadedEarlier = true;
  const img = new Image();
  img.onload = () => {
    const { width, height } = state.map;
    const scratch = new OffscreenCanvas(width, height).getContext("2d");
    scratch.imageSmoothingEnabled = false; // region numbers must not be blended
    scratch.drawImage(img, 0, 0, width, height);
    state.map = fromGreyRGBA(scratch.getImageData(0, 0, width, height).data, width, height);
    render();
  };
  img.src = PAGE.earlier_labels;
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
}

function tool() {
  return form.querySelector("input[name=st-tool]:checked").value;
}

canvas.addEventListener("pointerdown", (event) => {
  if (!state.map) return;
  const [x, y] = point(event);
  if (tool() === "fill") {
    floodFill(state.map, Math.min(state.map.width - 1, Math.floor(x)), Math.min(state.map.height - 1, Math.floor(y)), state.current);
    render();
    return;
  }
  canvas.setPointerCapture(event.pointerId);
  state.stroke = [x, y];
  stroke(x, y);
});
canvas.addEventListener("pointermove", (event) => {
  if (!state.stroke) return;
  const [x, y] = point(event);
  stroke(x, y);
});
for (const end of ["pointerup", "pointercancel"]) canvas.addEventListener(end, () => { state.stroke = null; });

function stroke(x, y) {
  const radius = Number($("st-brush").value) / 2;
  const label = tool() === "eraser" ? 0 : state.current;
  paintLine(state.map, state.stroke[0], state.stroke[1], x, y, radius, label);
  state.stroke = [x, y];
  render();
}

$("st-split").addEventListener("click", () => {
  if (!state.map || !state.photo) return;
  const { width, height } = state.map;
  const scratch = new OffscreenCanvas(width, height).getContext("2d");
  scratch.drawImage(state.photo, 0, 0, width, height);
  const k = Math.max(2, state.regions.length);
  while (state.regions.length < k) state.regions.push({ style: 0, strength: 1 });
  state.map = splitByColour(scratch.getImageData(0, 0, width, height).data, width, height, k);
  render();
});
$("st-add-region").addEventListener("click", () => {
  if (state.regions.length >= PAGE.max_regions) return;
  state.regions.push({ style: 0, strength: 1 });
  state.current = state.regions.length - 1;
  save();
  renderList();
});
$("st-clear").addEventListener("click", () => {
  if (!state.map) return;
  state.map.labels.fill(0);
  render();
});

$("st-paint-toggle").addEventListener("click", () => {
  state.on = !state.on;
  $("st-painter").hidden = !state.on;
  $("st-paint-toggle").textContent = state.on ? "No regions" : "Paint regions";
  if (state.on) {
    if (!state.regions.length) {
      let earlier = [];
      try { earlier = JSON.parse($("id_regions").value || "[]"); } catch { earlier = []; }
      // Region 1 (all not painted) takes the first style, region 2 keeps the photo: a first
      // stroke protects a part, and the picture is styled whatever is painted.
      state.regions = earlier.length ? earlier : [{ style: 0, strength: 1 }, { style: null, strength: 1 }];
    }
    loadPhoto();
    save();
  } else {
    $("id_regions").value = "";
    const reuse = $("id_reuse_regions");
    if (reuse) reuse.checked = false;
  }
});
$("id_content").addEventListener("change", () => { if (state.on) loadPhoto(); });
$("id_reuse_content")?.addEventListener("change", () => { if (state.on) loadPhoto(); });
form.addEventListener("change", (event) => {
  if (state.on && state.map && event.target.matches("input[name=gallery], input[name=reuse_style], #id_styles")) renderList();
});
if ($("id_reuse_regions")?.checked) $("st-paint-toggle").click(); // run again: show them

// On submit the map goes as a grey PNG in the `labels` file input.
form.addEventListener("submit", (event) => {
  if (!state.on || !state.map || form.dataset.labelsReady) return;
  event.preventDefault();
  const { width, height } = state.map;
  const png = new OffscreenCanvas(width, height);
  png.getContext("2d").putImageData(new ImageData(toGreyRGBA(state.map), width, height), 0, 0);
  png.convertToBlob({ type: "image/png" }).then((blob) => {
    const files = new DataTransfer();
    files.items.add(new File([blob], "regions.png", { type: "image/png" }));
    $("id_labels").files = files.files;
    save();
    form.dataset.labelsReady = "1";
    form.requestSubmit();
  });
});
window.addEventListener("pageshow", () => { delete form.dataset.labelsReady; });
