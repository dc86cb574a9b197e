// The parts of every job page: status, progress, error, actions, result files, and the
// live connection. A kind's module calls `watchJob` to draw its own parts.
import { $, make, readJSON, whenLoaded } from "./dom.js";
import { jobMeta } from "./format.js";
import { getJSON, postJSON } from "./http.js";
import { answerIsStale, JobSocket } from "./jobsocket.js";
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
    const { message, ...answer } = await postJSON(siteURL(`job_${action}`, { id: job.id }), body);
    // The socket may have brought a newer state before this answer (a worker took the
    // resumed run): an older answer is not drawn over it, or the page says "queued" all run.
    if (!answerIsStale(answer, job)) render(answer);
    showNote(message);
  } catch (e) {
    showError(e.message);
  }
}

// What the last action did ("Queued again."), told on this page, at once.
function showNote(text) {
  if (text === undefined) return;
  $("job-note").hidden = !text;
  $("job-note").textContent = text;
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
  renderFailure(j);
  for (const w of watchers) w.onSnapshot?.(j);
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

// Staff pages carry a #job-failure box: what went wrong inside the worker. Snapshots
// that reach everyone watching the job never hold it, so a staff page asks for it.
let failureAsked = -1;
function renderFailure(j) {
  const box = $("job-failure");
  if (!box) return;
  const f = j.failure;
  box.hidden = j.status !== "failed" || !f;
  if (j.status !== "failed") return;
  if (f === undefined) {
    if (failureAsked !== j.version) {
      failureAsked = j.version;
      getJSON(siteURL("job_json", { id: j.id })).then(render, (e) => showError(e.message));
    }
    return;
  }
  if (!f) return;  // failed without running into an exception (the reaper gave up on it)
  const facts = [["Exception", f.type], ["Message", f.message], ["Worker", f.worker],
    ["Device", f.device], ["Attempt", f.attempt], ["When", f.at && new Date(f.at).toLocaleString()]];
  box.replaceChildren(
    make("h2", { textContent: "What went wrong (staff only)" }),
    make("dl", { className: "facts" }, ...facts.flatMap(([k, v]) => [make("dt", { textContent: k }), make("dd", { textContent: v ?? "–" })])),
    make("details", { open: true }, make("summary", { textContent: "Traceback" }), make("pre", { className: "traceback", tabIndex: 0, textContent: f.traceback })),
    make("details", {}, make("summary", { textContent: "Parameters" }), make("pre", { textContent: JSON.stringify(f.params, null, 2) })),
  );
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
