// "My jobs": every row on the page follows its job live over /ws/my-jobs/ (no polling).
// The socket sends `job` (the row's new state) and `progress`; on each (re)connection
// the page asks for the rows it shows, in case it missed something while away.
import { $ } from "./dom.js";
import { formatSeconds } from "./format.js";
import { versionStep } from "./jobsocket.js";
import { LiveSocket } from "./livesocket.js";
import { siteURL } from "./site.js";

const rows = new Map(); // job id -> {tr, version}
for (const tr of document.querySelectorAll("tr[data-job]")) {
  rows.set(tr.dataset.job, { tr, version: Number(tr.dataset.version) });
  setProgress(tr, Number(tr.dataset.progress));
}

function setProgress(tr, progress) {
  tr.querySelector(".bar > div").style.width = Math.round(progress * 100) + "%";
}

// Keep `msg` if it is news for a row on this page; a gap in versions asks for the row again.
function take(id, msg) {
  const row = rows.get(id);
  if (!row) return null;
  const step = versionStep(row.version, msg);
  row.version = step.version;
  if (step.resync) socket.send({ type: "resync", ids: [id] });
  return step.use ? row : null;
}

function drawJob(job) {
  const row = take(job.id, { version: job.version, job });
  if (!row) return;
  const { tr } = row;
  const badge = tr.querySelector(".badge");
  badge.textContent = job.status;
  badge.className = "badge " + job.status;
  setProgress(tr, job.progress);
  tr.querySelector(".job-waited").textContent = formatSeconds(job.wait_seconds);
  tr.querySelector(".job-ran").textContent = formatSeconds(job.run_seconds);
}

function drawProgress(msg) {
  const row = take(msg.id, msg);
  if (row) setProgress(row.tr, msg.progress);
}

class MyJobsSocket extends LiveSocket {
  opened() { this.send({ type: "resync", ids: [...rows.keys()] }); }
}

const conn = $("job-list-conn");
const socket = new MyJobsSocket(siteURL("my_jobs_socket"), {
  onMessage: (msg) => {
    if (msg.type === "job") drawJob(msg.job);
    else if (msg.type === "progress") drawProgress(msg);
  },
  onState: (state, why) => {
    conn.className = "small conn-" + state;
    conn.title = why || `live connection: ${state}`;
  },
});
if (rows.size) socket.start();
else conn.hidden = true;
