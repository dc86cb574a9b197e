// The job page of a clip (the `detect` kind's video mode, detection/videojob.py): progress
// and a live preview while the worker goes through the frames, then the annotated clip,
// the counts of each class over time and the files.
import { $ } from "../webapp/dom.js";
import { LinePlot, PALETTE } from "../webapp/plot.js";

let plot = null;
let finished = false;

export function isVideo(job) {
  return (job.params || {}).mode === "video";
}

function facts(v) {
  return `${v.width}×${v.height}, ${v.fps.toFixed(v.fps % 1 ? 2 : 0)} frames a second, ` +
    `${v.seconds.toFixed(1)} s${v.codec ? `, ${v.codec}` : ""}`;
}

export function videoSnapshot(job) {
  $("det-video").hidden = false;
  const m = job.metrics || {};
  const r = job.result || {};
  if (m.video) $("det-video-facts").textContent = facts(m.video);
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

function showResult(r) {
  finished = true;
  $("det-video-facts").textContent = `${r.video.name} · ${facts(r.video)}`;
  $("det-video-preview").hidden = true;
  $("det-video-preview-note").textContent = "";
  const clip = $("det-video-clip");
  clip.src = r.video.url;
  clip.hidden = false;
  const names = Object.keys(r.counts || {});
  $("det-video-counts-box").hidden = !names.length;
  if (names.length) {
    plot = plot || new LinePlot($("det-video-counts"), { xLabel: "seconds", yLabel: "objects", yMin: 0 });
    plot.update(names.slice(0, PALETTE.length).map((name, i) => ({
      name, color: PALETTE[i], points: r.counts[name],
    })));
  }
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
