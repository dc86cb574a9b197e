// The detection job page: every picture with its boxes, re-filtered in the page.
// The worker stored each picture's candidates (all boxes above a low score floor); moving
// a slider runs the same filter + per-class greedy NMS as detection.yolo.refilter, here.
import { $, make } from "../webapp/dom.js";
import { currentJob, watchJob } from "../webapp/jobpage.js";
import { classColour, shownBoxes } from "./refilter.js";
import { showComparison } from "./comparison.js";
import { paintBoxes } from "./paint.js";
import { showEvaluation } from "./evaluation.js";
import {
  isVideo, videoClasses, videoEvent, videoLoaded, videoRefilter, videoSnapshot,
} from "./videoview.js";
import { showProposals } from "./proposalsview.js";
import { showWindows } from "./windowsview.js";
import { XrayView } from "./xray.js";

const state = {
  conf: 0.25,
  iou: 0.45,
  allowed: null, // Set of class names shown, or null for all
  classConf: {}, // class name -> its own confidence (others use conf)
  classNames: [],
  pictures: new Map(), // index -> {entry, candidates, shown, card, frame, count}
  configured: false, // sliders set from the job's params (once: then they are the user's)
  video: false, // a clip's job (videoview.js shows it; the controls are the same)
};

// What the sliders, the classes' own boxes and the ticks say now.
const sliders = () => ({
  conf: state.conf, iou: state.iou, classConf: state.classConf, allowed: state.allowed,
});

// ------------------------------------------------------------------ pictures

function pictureCard(entry) {
  const card = document.createElement("article");
  card.className = "det-picture panel";
  card.dataset.index = entry.index;
  const head = document.createElement("header");
  const name = document.createElement("b");
  name.className = "det-name";
  name.textContent = entry.name;
  name.title = `${entry.name} · ${entry.width} × ${entry.height} pixels`;
  const count = document.createElement("span");
  count.className = "badge det-count";
  count.textContent = "…";
  head.append(name, count);

  const frame = document.createElement("div");
  frame.className = "det-frame";
  // Small pictures are shown larger (at least 22rem wide), big ones fit the column and 75vh.
  const wide = Math.max(entry.width, 352);
  frame.style.width = `min(100%, ${wide}px, ${(75 * entry.width) / entry.height}vh)`;
  const img = document.createElement("img");
  img.src = entry.url;
  img.alt = entry.name;
  img.width = entry.width;
  img.height = entry.height;
  img.loading = "lazy";
  frame.append(img);

  const foot = document.createElement("footer");
  const png = document.createElement("button");
  png.type = "button";
  png.className = "linklike small det-download";
  png.textContent = "Download PNG as shown";
  png.addEventListener("click", () => downloadAnnotated(entry.index));
  const server = document.createElement("a");
  server.href = entry.annotated_url + "?download=1";
  server.className = "small";
  server.textContent = "Server PNG (job settings)";
  const original = document.createElement("a");
  original.href = entry.url + "?download=1";
  original.className = "small";
  original.textContent = "Original";
  foot.append(png, server, original);
  card.append(head, frame, foot);
  let xray = null;
  if (entry.xray_url) {
    xray = new XrayView(entry, sliders);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "linklike small det-xray-toggle";
    button.textContent = "X-ray: how YOLO got these boxes";
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", async () => {
      await xray.toggle();
      button.setAttribute("aria-expanded", String(!xray.element.hidden));
    });
    foot.prepend(button);
    card.append(xray.element);
  }
  return { card, frame, img, count, xray };
}

async function addPicture(entry) {
  if (state.pictures.has(entry.index)) return;
  const parts = pictureCard(entry);
  const pic = { entry, candidates: [], shown: [], ...parts };
  state.pictures.set(entry.index, pic);
  const list = $("det-pictures");
  const after = Array.from(list.children).find((c) => Number(c.dataset.index) > entry.index);
  list.insertBefore(parts.card, after || null);
  try {
    const resp = await fetch(entry.candidates_url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    pic.candidates = (await resp.json()).candidates;
  } catch (e) {
    parts.count.textContent = "boxes not loaded";
    parts.count.title = String(e.message || e);
    return;
  }
  pic.loaded = true;
  redraw();
}

function drawBoxes(pic) {
  const { entry, frame } = pic;
  frame.querySelectorAll(".det-box").forEach((b) => b.remove());
  for (const d of pic.shown) {
    const [x1, y1, x2, y2] = d.box;
    const box = document.createElement("div");
    box.className = "det-box";
    box.dataset.class = d.class;
    box.style.left = `${(100 * x1) / entry.width}%`;
    box.style.top = `${(100 * y1) / entry.height}%`;
    box.style.width = `${(100 * (x2 - x1)) / entry.width}%`;
    box.style.height = `${(100 * (y2 - y1)) / entry.height}%`;
    box.style.setProperty("--c", classColour(d.class_id));
    box.title = `${d.class} ${d.score.toFixed(2)} · [${d.box.map((v) => Math.round(v)).join(", ")}]`;
    const label = document.createElement("span");
    // Inside the box at the top edge; anchored right near the right edge, so it stays on the picture.
    label.className = "det-label" + (y1 / entry.height < 0.06 ? " inside" : "") +
      (x1 / entry.width > 0.6 ? " right" : "");
    label.textContent = `${d.class} ${d.score.toFixed(2)}`;
    box.append(label);
    frame.append(box);
  }
}

// ------------------------------------------------------------------ controls

function readControls() {
  state.conf = Number($("det-conf").value);
  state.iou = Number($("det-iou").value);
  $("det-conf-value").textContent = state.conf.toFixed(2);
  $("det-iou-value").textContent = state.iou.toFixed(2);
}

function redraw() {
  readControls();
  const perClass = new Map(); // class -> {id, count at these thresholds, present at all}
  let total = 0, loaded = 0;
  for (const pic of state.pictures.values()) {
    if (!pic.loaded) continue;
    loaded++;
    for (const d of pic.candidates) {
      if (!perClass.has(d.class)) perClass.set(d.class, { id: d.class_id, count: 0 });
    }
    const { all, shown } = shownBoxes(pic.candidates, sliders());
    for (const d of all) perClass.get(d.class).count++;
    pic.shown = shown;
    total += pic.shown.length;
    pic.count.textContent = `${pic.shown.length} object${pic.shown.length === 1 ? "" : "s"}`;
    pic.count.className = "badge det-count" + (pic.shown.length ? " succeeded" : "");
    drawBoxes(pic);
    if (pic.xray) pic.xray.draw();
  }
  if (state.video) {  // the frame on screen's count goes in det-total
    videoRefilter(sliders(), perClass);
    $("det-app").classList.toggle("det-no-controls", !videoLoaded());
  } else {
    $("det-total").textContent = loaded
      ? `${total} object${total === 1 ? "" : "s"} in ${loaded} picture${loaded === 1 ? "" : "s"}`
      : "–";
  }
  renderClasses(perClass);
}

function renderClasses(perClass) {
  const box = $("det-classes");
  if (!perClass.size) {
    box.replaceChildren(make("span", { className: "hint", textContent: "Nothing above the lowest confidence in these pictures." }));
    return;
  }
  const rows = Array.from(perClass, ([name, v]) => ({ name, ...v }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  box.replaceChildren();
  for (const row of rows) {
    const label = document.createElement("label");
    label.className = "det-check" + (row.count ? "" : " none");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = row.name;
    input.checked = !state.allowed || state.allowed.has(row.name);
    input.addEventListener("change", () => toggleClass(row.name, input.checked));
    const swatch = document.createElement("i");
    swatch.style.background = classColour(row.id);
    const text = document.createElement("span");
    text.textContent = row.name;
    const n = document.createElement("span");
    n.className = "det-n";
    n.textContent = row.count;
    n.title = state.video ? "most boxes on one frame" : "boxes in all pictures";
    label.append(input, swatch, text, n);
    box.append(label, ownConfInput(row.name));
  }
}

// A class's own confidence: empty means the global slider. Committed on change (Enter,
// leaving the field, the arrows), since the list is rebuilt on every redraw.
function ownConfInput(name) {
  const own = document.createElement("input");
  own.type = "number";
  own.className = "det-own";
  own.min = $("det-conf").min;
  own.max = "1";
  own.step = "0.01";
  own.placeholder = state.conf.toFixed(2);
  own.title = `Confidence for ${name} only (empty: the slider's)`;
  own.setAttribute("aria-label", own.title);
  own.dataset.class = name;
  if (Object.hasOwn(state.classConf, name)) own.value = state.classConf[name];
  own.addEventListener("change", () => {
    const value = own.value === "" ? NaN : Number(own.value);
    const next = { ...state.classConf };
    if (Number.isFinite(value) && value >= Number(own.min) && value <= 1) next[name] = value;
    else delete next[name];  // empty or out of range: back to the global confidence
    state.classConf = next;
    redraw();
  });
  return own;
}

function presentClasses() {
  const names = new Set();
  for (const pic of state.pictures.values()) for (const d of pic.candidates) names.add(d.class);
  for (const name of videoClasses()) names.add(name);
  return names;
}

function toggleClass(name, on) {
  const allowed = state.allowed ? new Set(state.allowed) : presentClasses();
  if (on) allowed.add(name); else allowed.delete(name);
  const present = presentClasses();
  state.allowed = [...present].every((n) => allowed.has(n)) ? null : allowed;
  redraw();
}

// The sliders and ticked classes start at the job's own settings.
function applySettings(settings) {
  $("det-conf").value = settings.conf ?? 0.25;
  $("det-iou").value = settings.iou ?? 0.45;
  state.allowed = settings.classes && settings.classes.length ? new Set(settings.classes) : null;
  state.classConf = { ...(settings.class_conf || {}) };
}

function describeModel(result) {
  state.classNames = result.class_names || [];
  const m = result.model;
  if (!m) return;
  $("det-model").textContent = `${m.name}, ${m.input_size[0]}×${m.input_size[1]} input, ` +
    `${m.classes} ${m.dataset} classes, ${m.published_map50} mAP@0.5 published` +
    (result.device ? ` · ran on ${result.device}` : "");
  $("det-conf").min = m.floor;
  $("det-iou").max = m.candidate_iou;
}

$("det-conf").addEventListener("input", redraw);
$("det-iou").addEventListener("input", redraw);
$("det-all").addEventListener("click", () => { state.allowed = null; redraw(); });
$("det-none").addEventListener("click", () => { state.allowed = new Set(); redraw(); });
$("det-reset").addEventListener("click", () => {
  applySettings(currentJob().params || {});
  redraw();
});

// ------------------------------------------------------------------ exports

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function sortedPictures() {
  return [...state.pictures.values()].sort((a, b) => a.entry.index - b.entry.index);
}

const round1 = (v) => Math.round(v * 10) / 10;
const stem = () => `detections-${currentJob().id.slice(0, 8)}`;

const ownConfText = () => Object.entries(state.classConf).map(([k, v]) => `${k}=${v}`).join(", ");

function exportJSON() {
  const out = sortedPictures().map((p) => ({
    image: p.entry.name, width: p.entry.width, height: p.entry.height,
    detections: p.shown.map((d) => ({ class: d.class, score: d.score, box: d.box })),
  }));
  download(`${stem()}.json`, new Blob([JSON.stringify(out, null, 1)], { type: "application/json" }));
}

function exportCOCO() {
  const names = state.classNames.length ? state.classNames : [...presentClasses()];
  const images = [], annotations = [];
  for (const [i, p] of sortedPictures().entries()) {
    images.push({ id: i + 1, file_name: p.entry.name, width: p.entry.width, height: p.entry.height });
    for (const d of p.shown) {
      const [x1, y1, x2, y2] = d.box;
      const w = round1(x2 - x1), h = round1(y2 - y1);
      annotations.push({
        id: annotations.length + 1, image_id: i + 1, category_id: d.class_id + 1,
        bbox: [round1(x1), round1(y1), w, h], area: round1(w * h), score: d.score, iscrowd: 0,
      });
    }
  }
  const coco = {
    info: { description: `CNN Studio detections, confidence ≥ ${state.conf}` +
              `${ownConfText() ? ` (${ownConfText()})` : ""}, IoU ${state.iou}`,
            class_conf: { ...state.classConf },
            date_created: new Date().toISOString() },
    images, annotations,
    categories: names.map((name, i) => ({ id: i + 1, name, supercategory: "object" })),
  };
  download(`${stem()}.coco.json`, new Blob([JSON.stringify(coco)], { type: "application/json" }));
}

// The picture at full size with the boxes as shown, drawn like the server's PNGs.
function downloadAnnotated(index) {
  const pic = state.pictures.get(index);
  const { width: W, height: H } = pic.entry;
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const g = canvas.getContext("2d");
  const draw = () => {
    g.drawImage(pic.img, 0, 0, W, H);
    paintBoxes(g, pic.shown, W, H);
    const base = pic.entry.name.split("/").pop().replace(/\.[^.]+$/, "");
    canvas.toBlob((blob) => download(`${base}.detected.png`, blob), "image/png");
  };
  if (pic.img.complete && pic.img.naturalWidth) draw();
  else pic.img.addEventListener("load", draw, { once: true });
}

$("det-export-json").addEventListener("click", exportJSON);
$("det-export-coco").addEventListener("click", exportCOCO);

// ------------------------------------------------------------------ the job's life

function showWaiting(job) {
  const waiting = $("det-waiting");
  const m = job.metrics || {};
  const active = job.status === "queued" || job.status === "running";
  waiting.hidden = !active;
  if (job.status === "queued") $("det-waiting-text").textContent = "Waiting for a worker…";
  else if (job.status === "running") {
    $("det-waiting-text").textContent = m.comparing_models
      ? `Comparing the models on your labels: ${m.comparing_models}…`
      : m.comparing_windows
      ? "Comparing sliding windows with the convolutional pass on the first picture…"
      : m.comparing_proposals
      ? "Proposing regions on the first picture and classifying each one…"
      : m.pictures
      ? `Detecting… ${m.done || 0} of ${m.pictures} picture${m.pictures === 1 ? "" : "s"} done`
      : "Loading the model and reading the pictures…";
  }
}

function onSnapshot(job) {
  const result = job.result || {};
  if (!state.configured) {
    applySettings(job.params || {});
    state.configured = true;
  }
  if (result.model && !state.classNames.length) describeModel(result);
  if (isVideo(job)) {
    state.video = true;
    $("det-waiting").hidden = true;
    $("det-app").hidden = false;
    $("det-app").classList.add("det-video-mode");
    videoSnapshot(job, { sliders, redraw });
    redraw();
    return;
  }
  showWaiting(job);
  const pictures = result.pictures || [];
  if (pictures.length || state.pictures.size) $("det-app").hidden = false;
  pictures.forEach(addPicture);
  redraw();
  if (result.evaluation) showEvaluation(result.evaluation, state.pictures);
  if (result.comparison) showComparison(result.comparison);
  if (result.windows) showWindows(result.windows, state.pictures, state.classNames);
  if (result.proposals) showProposals(result.proposals, state.pictures, state.classNames);
}

function onEvent(ev) {
  if (isVideo(currentJob())) {
    videoEvent(ev);
    return;
  }
  if (ev.type === "picture" && ev.picture) {
    $("det-app").hidden = false;
    showWaiting(currentJob());
    addPicture(ev.picture);
  }
}

watchJob({ onSnapshot, onEvent });
