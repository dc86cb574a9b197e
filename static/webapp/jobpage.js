// The parts of every job page: status, progress, error, actions, result files, and the
// live connection. A kind's module calls `watchJob` to draw its own parts.
import { $, make, readJSON, whenLoaded } from "./dom.js";
import { formatSeconds } from "./format.js";
import { postJSON } from "./http.js";
import { JobSocket } from "./jobsocket.js";
import { isActive, siteURL } from "./site.js";

let job = readJSON("job-snapshot");
const watchers = [];

/** The job as the page has it now. */
export const currentJob = () => job;

/** Call `onSnapshot(job)` now and whenever the job changes, `onEvent(event)` for each live event. */
export function watchJob({ onSnapshot, onEvent }) {
  watchers.push({ onSnapshot, onEvent });
  onSnapshot?.(job);
}

/** POST a job action ("cancel", "retry", "control" with a body) and draw the answer. */
export async function jobAction(action, body) {
  try {
    render(await postJSON(siteURL(`job_${action}`, { id: job.id }), body));
  } catch (e) {
    showError(e.message);
  }
}

function showError(text) {
  $("job-error").hidden = false;
  $("job-error").textContent = text;
}

function render(j) {
  job = j;
  const status = $("job-status");
  status.textContent = j.cancel_requested && j.status === "running" ? "cancelling" : j.status;
  status.className = "badge " + j.status;
  const pct = Math.round((j.progress || 0) * 100);
  $("job-progress").style.width = pct + "%";
  $("job-progress").className = j.status;
  $("job-progress-text").textContent = pct + "%";
  const err = $("job-error");
  err.hidden = !j.error;
  err.textContent = j.error || "";
  err.className = "flash " + (j.status === "failed" ? "error" : "info");
  $("job-cancel").hidden = !isActive(j.status) || j.cancel_requested;
  $("job-retry").hidden = !(j.status === "failed" || j.status === "cancelled");
  $("job-meta").textContent = jobMeta(j).join(" · ");
  renderFiles(j);
  for (const w of watchers) w.onSnapshot?.(j);
}

function jobMeta(j) {
  const started = j.started_at ? new Date(j.started_at) : null;
  const finished = j.finished_at ? new Date(j.finished_at) : null;
  const parts = [];
  if (j.worker) parts.push(`worker ${j.worker}`);
  if (j.metrics && j.metrics.device) parts.push(`device ${j.metrics.device}`);
  if (started) parts.push(`waited ${formatSeconds((started - new Date(j.created_at)) / 1000)}`);
  if (started && finished) parts.push(`ran ${formatSeconds((finished - started) / 1000)}`);
  if (j.attempts > 1) parts.push(`attempt ${j.attempts}`);
  return parts;
}

function renderFiles(j) {
  const box = $("job-result");
  if (!box) return;
  const files = (j.result && j.result.files) || [];
  box.replaceChildren();
  if (!files.length) return;
  const items = files.map((f) => make("li", {}, make("a", { href: f.url + "?download=1", textContent: f.label || f.name })));
  box.append(make("h2", { textContent: "Results" }), make("ul", {}, ...items));
}

function onEvent(ev) {
  if (typeof ev.progress === "number" && !ev.job) {
    render({ ...job, progress: ev.progress, metrics: { ...job.metrics, ...(ev.metrics || {}) } });
  }
  for (const w of watchers) w.onEvent?.(ev);
}

$("job-cancel").addEventListener("click", () => jobAction("cancel"));
$("job-retry").addEventListener("click", () => jobAction("retry"));
render(job);

// Connect once every module of the page has run, so that every watcher sees every event.
whenLoaded(() => {
  const conn = $("job-conn");
  new JobSocket(siteURL("job_socket", { id: job.id }), {
    onSnapshot: render,
    onEvent,
    isActive: () => isActive(job.status),
    onState: (state, why) => {
      conn.className = "small conn-" + state;
      conn.title = why || `live connection: ${state}`;
      if (state === "denied") showError(why);
    },
  }).start();
});
