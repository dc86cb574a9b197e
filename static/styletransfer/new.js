// New style-transfer job: thumbnails of chosen pictures before upload, blend weights
// for uploaded styles, presets that fill the knobs, and a busy button while uploading.
// Limits, presets and the pyramid's smallest level come from the server (`st-page`).
import { $, readJSON } from "../webapp/dom.js";
import { formatBytes, formatSeconds } from "../webapp/format.js";
import { getJSON } from "../webapp/http.js";
import "./painter.js";
import { levelSizes, totalSteps } from "./steps.js";

const form = $("st-form");
const PAGE = readJSON("st-page"); // {presets, min_level_side, max_steps, max_bytes, max_blend}
const maxBytes = PAGE.max_bytes;
const maxBlend = String(PAGE.max_blend);
const presets = PAGE.presets;

// One thumbnail card for a chosen file; `extra` (optional) is appended below the name.
function thumb(file, extra) {
  const item = document.createElement("div");
  item.className = "st-item on";
  const img = document.createElement("img");
  img.alt = file.name;
  const name = document.createElement("span");
  name.className = "st-name";
  name.textContent = file.name;
  const info = document.createElement("span");
  info.className = "hint";
  info.textContent = formatBytes(file.size);
  if (file.size > maxBytes) {
    info.className = "field-error";
    info.textContent = `${formatBytes(file.size)} – larger than the ${formatBytes(maxBytes)} limit`;
  }
  if (file.type.startsWith("image/")) {
    img.src = URL.createObjectURL(file);
    img.onload = () => {
      if (file.size <= maxBytes) info.textContent = `${img.naturalWidth}×${img.naturalHeight} · ${formatBytes(file.size)}`;
      URL.revokeObjectURL(img.src);
    };
    img.onerror = () => { img.classList.add("broken"); info.textContent = "no preview (the server will check it)"; };
  } else {
    img.classList.add("broken");
  }
  item.append(img, name, info);
  if (extra) item.append(extra);
  return item;
}

function weightInput(name) {
  const label = document.createElement("label");
  label.className = "st-weight";
  label.append("weight ");
  const input = document.createElement("input");
  Object.assign(input, { type: "number", name, value: "1", min: "0", max: maxBlend, step: "any" });
  label.append(input);
  return label;
}

const content = $("id_content");
content.addEventListener("change", () => {
  const box = $("st-content-preview");
  box.replaceChildren(...[...content.files].map((f) => thumb(f)));
  const reuse = $("id_reuse_content");
  if (reuse && content.files.length) reuse.checked = false;
});

const styles = $("id_styles");
styles.addEventListener("change", () => {
  $("st-style-previews").replaceChildren(...[...styles.files].map((f, i) => thumb(f, weightInput(`upload-${i}-weight`))));
  countStyles();
});

function styleCount() {
  return styles.files.length + form.querySelectorAll("input[name=gallery]:checked, input[name=reuse_style]:checked").length;
}

function countStyles() {
  const n = styleCount();
  $("st-style-count").textContent = n ? `${n} chosen` : "none chosen yet";
}

form.querySelectorAll("input[name=gallery], input[name=reuse_style]").forEach((box) => {
  const item = box.closest(".st-item");
  const sync = () => {
    item.classList.toggle("on", box.checked);
    item.querySelector(".st-weight input").disabled = !box.checked;
    countStyles();
  };
  box.addEventListener("change", sync);
  sync();
});

// Presets fill the size and step knobs; the total is shown as a hint.
const preset = $("id_preset");
const knob = (name) => $("id_" + name);
function showTotal() {
  const config = {};
  for (const name of ["size", "steps", "levels", "coarse_steps"]) config[name] = Number(knob(name).value);
  const note = $("st-total");
  // The form refuses more than a handful of levels; a typo like 1e9 must not hang the page.
  if (!(Number.isInteger(config.levels) && config.levels >= 1 && config.levels <= 32)) { note.textContent = ""; return; }
  const total = totalSteps(config, PAGE.min_level_side);
  const smaller = levelSizes(config, PAGE.min_level_side).length - 1;
  note.classList.toggle("field-error", total > PAGE.max_steps);
  note.textContent = !Number.isFinite(total) ? ""
    : `${total} optimiser steps in all (${smaller ? `${smaller} smaller level${smaller > 1 ? "s" : ""}, then ` : ""}${config.size} px)` +
      (total > PAGE.max_steps ? ` – more than the ${PAGE.max_steps} allowed.` : ".");
}
preset.addEventListener("change", () => {
  const p = presets[preset.value];
  for (const name of ["size", "steps", "levels", "coarse_steps"]) knob(name).value = p[name];
  showTotal();
  askEstimate();
});
for (const name of ["size", "steps", "levels", "coarse_steps"]) knob(name).addEventListener("input", showTotal);
showTotal();

// The estimate of peak memory and time on the workers' device, from the server's measured
// model; over the budget, the largest size that fits is offered.
const ESTIMATED = ["size", "steps", "levels", "coarse_steps", "optimizer"];
let estimateTimer = 0;
let estimateAsked = 0;
function askEstimate() {
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(async () => {
    const query = new URLSearchParams({ preset: preset.value, styles: String(Math.max(1, styleCount())) });
    for (const name of ESTIMATED) query.set(name, knob(name).value);
    const asked = ++estimateAsked;
    try {
      const answer = await getJSON(`${PAGE.estimate_url}?${query}`);
      if (asked === estimateAsked) showEstimate(answer);
    } catch (error) {
      $("st-estimate-text").textContent = `No estimate: ${error.message}`;
    }
  }, 250);
}
function showEstimate(e) {
  const text = $("st-estimate-text");
  const fix = $("st-estimate-fix");
  const gb = (mb) => `${(mb / 1024).toFixed(1)} GB`;
  text.textContent = `Estimated on the ${e.device} worker: about ${gb(e.memory_mb)} of memory at the peak ` +
    `and ${formatSeconds(e.runtime_s)}` + (e.over ? ` – ${e.over}` : ".");
  text.classList.toggle("field-error", !!e.over);
  fix.hidden = !e.over || !e.largest_size || e.largest_size >= Number(knob("size").value);
  fix.textContent = `Use ${e.largest_size} px instead`;
  fix.dataset.size = String(e.largest_size);
}
$("st-estimate-fix").addEventListener("click", () => {
  knob("size").value = $("st-estimate-fix").dataset.size;
  showTotal();
  askEstimate();
});
for (const name of ESTIMATED) knob(name).addEventListener("input", askEstimate);
form.addEventListener("change", (event) => {
  if (event.target.matches("input[name=gallery], input[name=reuse_style], #id_styles")) askEstimate();
});
askEstimate();
countStyles();

form.addEventListener("submit", () => {
  const button = $("st-submit");
  button.disabled = true;
  button.textContent = "Uploading…";
});
// Coming back with the browser's back button must not leave the button disabled.
window.addEventListener("pageshow", () => { $("st-submit").disabled = false; $("st-submit").textContent = "Paint it"; });
