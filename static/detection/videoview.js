// The job page of a clip (the `detect` kind's video mode, detection/videojob.py): progress
// and a live preview while the worker goes through the frames, then the plain clip with
// the boxes of the frame on screen drawn over it, re-filtered by the page's sliders, class
// ticks and classes' own confidences (job.js owns those; the same refilter.js as the
// pictures), the count of each class over time from those boxes, the key frame's X-ray
// and the files (the annotated WebM, with the boxes at the job's settings burnt in).
import { $ } from "../webapp/dom.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";
import { paintBoxes } from "./paint.js";
import { shownBoxes } from "./refilter.js";
import { countsOverTime, frameAt, frameCandidates } from "./videoframes.js";
import { XrayView } from "./xray.js";

let plot = null;
let finished = false;
let hooks = null; // {sliders(), redraw()} from job.js
const clip = {
  doc: null, // candidates.json
  frames: [], // each frame's candidates
  shown: [], // each frame's boxes at the sliders
  frame: 0, // the frame on screen
  xray: null,
  chartDue: false,
};

export function isVideo(job) {
  return (job.params || {}).mode === "video";
}

/** Whether the frames' candidates are in (the sliders have something to re-filter). */
export const videoLoaded = () => clip.doc !== null;

function facts(v) {
  return `${v.width}×${v.height}, ${v.fps.toFixed(v.fps % 1 ? 2 : 0)} frames a second, ` +
    `${v.seconds.toFixed(1)} s${v.codec ? `, ${v.codec}` : ""}`;
}

export function videoSnapshot(job, pageHooks) {
  hooks = pageHooks;
  $("det-video").hidden = false;
  const m = job.metrics || {};
  const r = job.result || {};
  if (m.video && !finished) $("det-video-facts").textContent = facts(m.video);
  const status = $("det-video-status");
  if (job.status === "queued") status.textContent = "Waiting for a worker…";
  else if (job.status === "running") {
    status.textContent = m.frames
      ? `Detecting… frame ${m.frames_done || 0} of ${m.frames}` + (m.fps ? ` · ${m.fps} frames a second` : "")
      : "Loading the model and opening the clip…";
  } else if (r.video) {
    const v = r.video;
    status.textContent = `${v.frames} frames done · ${v.processing_fps} frames a second on ${r.device}, ${r.precision || "float32"} (batches of ${v.batch_size})`;
  } else status.textContent = job.status === "succeeded" ? "Done." : `The job ${job.status}.`;
  if (r.video && !finished) showResult(r);
}

export function videoEvent(ev) {
  if (ev.type !== "preview" || finished) return;
  const img = $("det-video-preview");
  img.src = ev.url;
  img.hidden = false;
  $("det-video-preview-note").textContent = `Frame ${ev.frame}: ${ev.found} object${ev.found === 1 ? "" : "s"}`;
}

/** The classes on any frame's candidates (job.js's class list). */
export function videoClasses() {
  const names = new Set();
  for (const cands of clip.frames) for (const d of cands) names.add(d.class);
  return names;
}

/** Re-filter every frame at the sliders; fill perClass (class -> {id, count}) with each
 *  class's most boxes on one frame; redraw the frame on screen, the chart and the X-ray. */
export function videoRefilter(sliders, perClass) {
  if (!clip.doc) return;
  clip.shown = clip.frames.map((cands) => {
    const { all, shown } = shownBoxes(cands, sliders);
    const here = new Map();
    for (const d of cands) if (!perClass.has(d.class)) perClass.set(d.class, { id: d.class_id, count: 0 });
    for (const d of all) here.set(d.class, (here.get(d.class) || 0) + 1);
    for (const [name, n] of here) perClass.get(name).count = Math.max(perClass.get(name).count, n);
    return shown;
  });
  drawFrame();
  if (clip.xray) clip.xray.draw();
  if (!clip.chartDue) {  // a slider sends many inputs: the chart follows once a frame
    clip.chartDue = true;
    requestAnimationFrame(() => { clip.chartDue = false; drawChart(); });
  }
}

function drawChart() {
  const counts = countsOverTime(clip.shown, clip.doc.times);
  const names = Object.keys(counts);
  showStoredCounts(counts);
  $("det-video-counts-box").hidden = false;
  $("det-video-counts-note").textContent = names.length
    ? (names.length > PALETTE.length ? `The ${PALETTE.length} classes with the most boxes at once. ` : "") +
      "Counted from the boxes as the sliders show them."
    : "No boxes at these settings.";
}

// The chart of each class's count over time (jobs from before the candidates were
// stored: the job's own result.counts).
function showStoredCounts(counts) {
  const names = Object.keys(counts);
  $("det-video-counts-box").hidden = !names.length;
  if (!names.length) return;
  plot = plot || new LinePlot($("det-video-counts"), { xLabel: "seconds", yLabel: "objects", yMin: 0 });
  plot.update(names.slice(0, PALETTE.length).map((name, i) => ({ name, color: PALETTE[i], points: counts[name] })));
}

function drawFrame() {
  const video = $("det-video-clip"), canvas = $("det-video-overlay");
  const { width: W, height: H } = clip.doc;
  const shown = clip.shown[clip.frame] || [];
  const dpr = window.devicePixelRatio || 1;
  const cw = Math.max(1, Math.round(video.clientWidth * dpr)), ch = Math.max(1, Math.round(video.clientHeight * dpr));
  if (canvas.width !== cw || canvas.height !== ch) [canvas.width, canvas.height] = [cw, ch];
  const g = canvas.getContext("2d");
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, cw, ch);
  g.setTransform(cw / W, 0, 0, ch / H, 0, 0);
  paintBoxes(g, shown, W, H);
  const n = shown.length, count = clip.frames.length;
  const text = `${n} object${n === 1 ? "" : "s"} on frame ${clip.frame + 1} of ${count}`;
  $("det-video-frame").textContent = text;
  $("det-total").textContent = text;
  $("det-video-boxes").textContent = n
    ? shown.map((d) => `${d.class} ${d.score.toFixed(2)}`).join(", ")
    : "nothing at these settings";
  canvas.dataset.frame = clip.frame;
  canvas.dataset.classes = [...new Set(shown.map((d) => d.class))].join(" ");
}

// The frame on screen: requestVideoFrameCallback gives each presented frame's own time;
// seeking while paused and browsers without it go by currentTime.
function follow(video) {
  const show = (seconds) => {
    const f = frameAt(seconds, clip.doc.fps, clip.frames.length);
    if (f !== clip.frame || !video.dataset.drawn) {
      clip.frame = f;
      video.dataset.drawn = "1";
      drawFrame();
    }
  };
  const byTime = () => show(video.currentTime);
  if ("requestVideoFrameCallback" in video) {
    const onFrame = (_now, meta) => { show(meta.mediaTime); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else video.addEventListener("timeupdate", byTime);
  for (const name of ["seeked", "loadeddata", "ended"]) video.addEventListener(name, byTime);
  new ResizeObserver(() => drawFrame()).observe(video);
}

async function loadCandidates(r) {
  try {
    const resp = await fetch(r.video.candidates_url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    const doc = await resp.json();
    clip.frames = doc.frames.map((flat) => frameCandidates(flat, doc.class_names));
    clip.doc = doc;
  } catch (e) {
    $("det-video-frame").textContent = `The boxes could not be loaded: ${e.message || e}`;
    return;
  }
  follow($("det-video-clip"));
  hooks.redraw();
}

function showKeyFrame(key, fps) {
  const box = $("det-video-xray-box");
  box.hidden = false;
  $("det-video-xray-what").textContent = `X-ray of frame ${key.index + 1}, the first frame with the most boxes ` +
    `at the job's settings (${key.found}): the grids, anchors, objectness and NMS of that frame, re-filtered by the sliders.`;
  clip.xray = new XrayView(key, () => hooks.sliders());
  box.append(clip.xray.element);
  const toggle = $("det-video-xray-toggle");
  toggle.addEventListener("click", async () => {
    await clip.xray.toggle();
    toggle.setAttribute("aria-expanded", String(!clip.xray.element.hidden));
  });
  $("det-video-keyframe").addEventListener("click", () => {
    const video = $("det-video-clip");
    video.pause();
    video.currentTime = (key.index + 0.5) / fps;
  });
}

// The clip is fetched whole and played from a blob: job files are sent without range
// requests, and Chromium seeks in a clip only with them (or from a blob). The plain clip
// is small (its side is capped), so holding it is cheap.
async function playClip(url) {
  const video = $("det-video-clip");
  video.dataset.from = url;
  try {
    const resp = await fetch(url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    video.src = URL.createObjectURL(await resp.blob());
  } catch (e) {
    video.src = url;  // plays, without seeking
    $("det-video-facts").textContent += ` · the clip came without seeking (${e.message || e})`;
  }
}

function showResult(r) {
  finished = true;
  $("det-video-facts").textContent = `${r.video.name} · ${facts(r.video)}`;
  $("det-video-preview").hidden = true;
  $("det-video-preview-note").textContent = "";
  // Jobs from before the plain clip: the annotated one, without the page's boxes.
  playClip(r.video.plain_url || r.video.url);
  $("det-video-stage").hidden = false;
  if (r.video.candidates_url) {
    $("det-video-now").hidden = false;
    loadCandidates(r);
  } else showStoredCounts(r.counts || {});
  if (r.key_frame) showKeyFrame(r.key_frame, r.video.fps);
  const links = $("det-video-files");
  links.replaceChildren();
  for (const f of r.files || []) {
    const a = document.createElement("a");
    a.href = `${f.url}?download=1`;
    a.className = "button small ghost";
    a.textContent = f.label;
    links.append(a);
  }
}
