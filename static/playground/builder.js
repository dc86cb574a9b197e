// The net builder: edit layers with forms, see the server's summary table as you type,
// load presets, share the whole builder state as a link (#net=...).
// The layer catalogue and the URLs come from the server (`pg-builder`, playground/netspec.py).
import { $, readJSON } from "../webapp/dom.js";
import { formatCompact, formatCount } from "../webapp/format.js";
import { csrfToken, getJSON } from "../webapp/http.js";

const form = $("train-form");
const BUILDER = readJSON("pg-builder");
const CATALOGUE = BUILDER.catalogue; // type -> {help, params: {name: {start, float, hint}}}

/** A new layer of this type, with the values the catalogue starts it from. */
function newLayer(type) {
  const layer = { type };
  for (const [name, p] of Object.entries(CATALOGUE[type].params)) layer[name] = p.start;
  return layer;
}

let spec = [];
let errorIndex = null;

// ---- state <-> page ------------------------------------------------------------
function datasetInput() { return form.querySelector("input[name=dataset]:checked"); }

function currentTask() { return form.task ? form.task.value : "classify"; }

function shapeRequest() {
  const ds = datasetInput();
  const body = { dataset: ds ? ds.value : "stripes", task: currentTask() };
  if (body.task === "verify") body.verify_loss = form.verify_loss.value;
  if (body.dataset === "upload") {
    body.image_size = +form.image_size.value || 32;
    body.channels = +$("upload-channels").value;
  }
  return body;
}

function settings() {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || ["spec", "csrfmiddlewaretoken", "dataset_zip"].includes(el.name)) continue;
    if (el.type === "radio") { if (el.checked) out[el.name] = el.value; continue; }
    out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}

function applySettings(s) {
  for (const [name, value] of Object.entries(s || {})) {
    const els = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
    for (const el of els) {
      if (el.type === "radio") el.checked = el.value === value && !el.disabled;
      else if (el.type === "checkbox") el.checked = !!value;
      else if (el.type !== "file") el.value = value;
    }
  }
}

function layerRow(layer, i) {
  const li = document.createElement("li");
  li.className = "pg-layer" + (i === errorIndex ? " bad" : "");
  li.dataset.index = i;
  const head = document.createElement("div");
  head.className = "pg-layer-head";
  const num = document.createElement("span");
  num.className = "pg-num";
  num.textContent = i;
  const type = document.createElement("select");
  type.className = "pg-type";
  type.setAttribute("aria-label", `layer ${i} type`);
  for (const t of Object.keys(CATALOGUE)) type.add(new Option(t, t, false, t === layer.type));
  type.addEventListener("change", () => { spec[i] = newLayer(type.value); changed(); });
  const tools = document.createElement("span");
  tools.className = "pg-tools";
  for (const [label, title, fn] of [
    ["↑", "move up", () => move(i, -1)], ["↓", "move down", () => move(i, 1)],
    ["+", "duplicate", () => { spec.splice(i + 1, 0, { ...spec[i] }); changed(); }],
    ["✕", "remove", () => { spec.splice(i, 1); changed(); }],
  ]) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "linklike"; b.textContent = label; b.title = title;
    b.setAttribute("aria-label", `${title} layer ${i}`);
    b.addEventListener("click", fn);
    tools.append(b);
  }
  head.append(num, type, tools);
  const params = document.createElement("div");
  params.className = "pg-params";
  for (const [name, p] of Object.entries(CATALOGUE[layer.type]?.params || {})) {
    const lab = document.createElement("label");
    lab.title = p.hint;
    lab.append(document.createTextNode(name));
    let input;
    if (p.choices) { // e.g. an upsample's mode
      input = document.createElement("select");
      for (const c of p.choices) input.add(new Option(c, c, false, c === (layer[name] ?? p.start)));
    } else {
      input = document.createElement("input");
      input.type = p.text ? "text" : "number";
      if (p.text) { input.size = 8; input.placeholder = name === "name" ? "optional" : "a name"; }
      else input.step = p.float ? "any" : "1";
      input.value = layer[name] ?? p.start ?? "";
    }
    input.dataset.param = name;
    input.addEventListener(p.choices ? "change" : "input", () => {
      const v = input.value.trim();
      if (p.text || p.choices) {
        if (name === "name" && v === "") delete spec[i].name; else spec[i][name] = v;
      } else spec[i][name] = v === "" ? null : p.float ? parseFloat(v) : Number(v);
      changed(false);
    });
    lab.append(input);
    params.append(lab);
  }
  const help = document.createElement("div");
  help.className = "hint";
  help.textContent = CATALOGUE[layer.type]?.help || "";
  li.append(head, params, help);
  return li;
}

function renderLayers() {
  const list = $("layers");
  list.replaceChildren(...spec.map(layerRow));
  if (!spec.length) {
    const li = document.createElement("li");
    li.className = "hint";
    li.textContent = "No layers yet: load a preset or add a layer below.";
    list.append(li);
  }
}

function move(i, by) {
  const j = i + by;
  if (j < 0 || j >= spec.length) return;
  [spec[i], spec[j]] = [spec[j], spec[i]];
  changed();
}

// ---- the live summary ------------------------------------------------------------
let timer = null, seq = 0;
function changed(redraw = true) {
  $("id_spec").value = JSON.stringify(spec);
  if (redraw) renderLayers();
  clearTimeout(timer);
  timer = setTimeout(refreshSummary, 250);
}

const count = (n) => (n == null ? "all" : formatCount(n));

async function refreshSummary() {
  const mine = ++seq;
  let answer;
  try {
    const resp = await fetch(BUILDER.summary_url, { // an invalid net is a 400 with the reason
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ spec, ...shapeRequest() }),
    });
    answer = await resp.json();
  } catch (e) {
    answer = { ok: false, error: "The server could not be reached to check the net.", index: null };
  }
  if (mine !== seq) return; // a newer edit is on its way
  showSummary(answer);
}

function showSummary(answer) {
  const body = $("summary").tBodies[0];
  const err = $("summary-error");
  const start = $("start-training");
  errorIndex = answer.ok ? null : answer.index;
  for (const li of $("layers").children) li.classList.toggle("bad", +li.dataset.index === errorIndex && errorIndex !== null);
  err.hidden = answer.ok;
  if (start) start.disabled = !answer.ok;
  $("start-note").textContent = answer.ok ? "" : "Fix the net first: nothing can be trained while it is invalid.";
  if (!answer.ok) {
    err.textContent = answer.index == null ? answer.error
      : `Layer ${answer.index} (${(spec[answer.index] || {}).type || "?"}): ${answer.reason || answer.error}`;
    for (const tr of body.rows) tr.classList.toggle("bad", +tr.dataset.index === answer.index);
    if (answer.index != null && !body.querySelector(`tr[data-index="${answer.index}"]`)) body.replaceChildren();
    return;
  }
  const s = answer.summary;
  $("summary-shape").textContent = `input ${s.input_shape.join("×")}`;
  body.replaceChildren(...s.rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.index = r.index;
    if (r.type === "classifier") tr.className = "head";
    const cells = [r.index, r.type, r.output_shape.join("×"), r.arithmetic, count(r.params),
      r.receptive_field == null ? "all" : `${r.receptive_field}×${r.receptive_field}`, formatCompact(r.mult_adds)];
    for (const [k, c] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = c;
      if (k === 3) td.className = "pg-arith";
      tr.append(td);
    }
    return tr;
  }));
  $("total-params").textContent = count(s.total_params);
  $("total-macs").textContent = formatCompact(s.total_mult_adds);
  $("total-act").textContent = (s.activation_floats * 4 / 1024).toFixed(0) + " KB";
}

// ---- presets, datasets, sharing --------------------------------------------------
async function loadPreset(name, button) {
  const q = new URLSearchParams(shapeRequest());
  let training;
  try {
    ({ spec, training } = await getJSON(`${BUILDER.preset_urls[name]}?${q}`));
  } catch (e) {
    $("preset-note").textContent = e.message;
    return;
  }
  $("id_preset").value = name;
  const filled = fillTraining(training || {});
  $("preset-note").textContent = `Loaded ${button ? button.textContent : name}: ${spec.length} layers, sized for ${datasetInput().value}` +
    (filled ? `; its training settings: ${filled}.` : ".");
  changed();
}

// A preset's training settings (learning rate, batch, epochs, schedule, augmentation)
// go into the form's fields; returns them in words, or "" when the preset has none.
function fillTraining(training) {
  const form = $("id_preset").form;
  const set = (field, value) => {
    const input = form.elements[field];
    if (!input || value === undefined) return;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = String(value);
  };
  for (const field of ["optimizer", "lr", "batch_size", "epochs", "schedule"]) set(field, training[field]);
  for (const [field, value] of Object.entries(training.augment || {})) set(field, value);
  if (training.lr === undefined) return "";
  return `${training.optimizer} at ${training.lr}, batch ${training.batch_size}, ${training.epochs} epochs` +
    (training.schedule === "cosine" ? ", cosine decay" : "");
}

document.querySelectorAll("#presets [data-preset]").forEach((b) =>
  b.addEventListener("click", () => loadPreset(b.dataset.preset, b)));

const showAddHelp = () => { $("add-help").textContent = CATALOGUE[$("add-type").value].help; };
$("add-type").addEventListener("change", showAddHelp);
$("add-layer").addEventListener("click", () => {
  const t = $("add-type").value;
  spec.push(newLayer(t));
  $("id_preset").value = "";
  changed();
});
$("layers").addEventListener("change", () => { $("id_preset").value = ""; });

// ---- the task: its head, its loss, its datasets and presets --------------------------
const HEAD_HINTS = {
  classify: "A classifier (flatten if needed, then a linear layer to one output per class) is added after your last layer.",
  localise: "A head (flatten, then a linear layer to the class scores and the box's 4 numbers) is added after your last layer.",
  landmarks: "A head (flatten, then a linear layer to x and y of every point) is added after your last layer.",
  segment: "A 1×1 conv giving each pixel a score per class is added after your last layer: the net must end at the pictures' size.",
  verify: "An embedding (flatten, a linear layer, scaled to length 1) is added after your last layer; the pair loss adds a pair classifier.",
};

function taskChanged(loadFirstPreset = true) {
  const task = currentTask(), info = BUILDER.tasks[task];
  $("task-outputs").textContent = info.outputs;
  $("task-loss").textContent = info.loss;
  $("head-hint").textContent = HEAD_HINTS[task];
  for (const el of form.querySelectorAll(".pg-verify")) el.hidden = task !== "verify";
  if (["localise", "landmarks", "segment"].includes(task)) {
    // moving a picture would leave its box, points or mask behind: the form refuses it
    for (const name of ["hflip", "vflip"]) form[name].checked = false;
    for (const name of ["rotate", "shift"]) form[name].value = 0;
  }
  for (const input of form.querySelectorAll("input[name=dataset]")) {
    input.closest("label").hidden = input.dataset.task !== task;
  }
  const ds = datasetInput();
  if (!ds || ds.dataset.task !== task) {
    const first = form.querySelector(`input[name=dataset][data-task="${task}"]:not([disabled])`);
    if (first) first.checked = true;
  }
  $("upload-fields").hidden = datasetInput()?.value !== "upload";
  const buttons = [...document.querySelectorAll("#presets [data-preset]")];
  buttons.forEach((b) => { b.hidden = b.dataset.task !== task; });
  const current = buttons.find((b) => b.dataset.preset === $("id_preset").value);
  if (loadFirstPreset && (!current || current.dataset.task !== task)) {
    const first = buttons.find((b) => b.dataset.task === task);
    if (first) { loadPreset(first.dataset.preset, first); return; }
  }
  changed(false);
}
if (form.task) {
  form.task.addEventListener("change", () => taskChanged());
  form.verify_loss.addEventListener("change", () => changed(false));
}

function datasetChanged() {
  const ds = datasetInput();
  $("upload-fields").hidden = !ds || ds.value !== "upload";
  changed(false);
}
form.querySelectorAll("input[name=dataset]").forEach((r) => r.addEventListener("change", datasetChanged));
form.image_size.addEventListener("input", () => changed(false));
$("upload-channels").addEventListener("change", () => changed(false));

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function fromBase64Url(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

$("share-spec").addEventListener("click", async () => {
  const url = `${location.origin}${location.pathname}#net=${toBase64Url(JSON.stringify({ spec, settings: settings() }))}`;
  history.replaceState(null, "", url);
  const note = $("share-note");
  note.hidden = false;
  try {
    await navigator.clipboard.writeText(url);
    note.textContent = "Link copied: opening it restores this net and these settings.";
  } catch (e) {
    note.textContent = "The address bar now holds a link that restores this net and these settings.";
  }
});

form.addEventListener("submit", (ev) => {
  if (errorIndex !== null || !spec.length) { ev.preventDefault(); $("start-note").textContent = "Fix the net first."; return; }
  $("id_spec").value = JSON.stringify(spec);
  const b = $("start-training");
  if (b) { b.disabled = true; b.textContent = "Starting…"; }
});

// ---- start: a shared link, the form's own spec (after an error / run again), or LeNet
function start() {
  const m = location.hash.match(/^#net=([\w-]+)/);
  if (m) {
    try {
      const state = JSON.parse(fromBase64Url(m[1]));
      if (Array.isArray(state.spec)) spec = state.spec;
      applySettings(state.settings);
      $("preset-note").textContent = "Restored from a shared link.";
    } catch (e) {
      $("preset-note").textContent = "The shared link is damaged; starting from LeNet-5.";
    }
  } else if ($("id_spec").value) {
    try { spec = JSON.parse($("id_spec").value); } catch (e) { spec = []; }
    if (!Array.isArray(spec)) spec = [];
  }
  if (!datasetInput()) form.querySelector("input[name=dataset]:not([disabled])").checked = true;
  $("upload-fields").hidden = datasetInput().value !== "upload";
  showAddHelp();
  errorIndex = BUILDER.spec_error_index;
  if (!spec.length && !$("id_spec").value) {
    if (currentTask() === "classify") { taskChanged(false); loadPreset("lenet5"); } else taskChanged(true);
    return;
  }
  taskChanged(false);
  changed();
}
start();
