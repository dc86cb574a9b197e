// The parts of every job page: status, progress, error, actions, result files.
// Kind pages listen for `job:snapshot` and `job:event` on document for their own parts.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const initial = JSON.parse($("job-snapshot").textContent);
  let job = initial;

  function fmtSeconds(s) {
    if (s == null) return "–";
    s = Math.round(s);
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
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
    $("job-cancel").hidden = !(j.status === "queued" || j.status === "running") || j.cancel_requested;
    $("job-retry").hidden = !(j.status === "failed" || j.status === "cancelled");
    const started = j.started_at ? new Date(j.started_at) : null;
    const finished = j.finished_at ? new Date(j.finished_at) : null;
    const parts = [];
    if (j.worker) parts.push(`worker ${j.worker}`);
    if (j.metrics && j.metrics.device) parts.push(`device ${j.metrics.device}`);
    if (started) parts.push(`waited ${fmtSeconds((started - new Date(j.created_at)) / 1000)}`);
    if (started && finished) parts.push(`ran ${fmtSeconds((finished - started) / 1000)}`);
    if (j.attempts > 1) parts.push(`attempt ${j.attempts}`);
    $("job-meta").textContent = parts.join(" · ");
    renderFiles(j);
    document.dispatchEvent(new CustomEvent("job:snapshot", { detail: j }));
  }

  function renderFiles(j) {
    const box = $("job-result");
    if (!box) return;
    const files = (j.result && j.result.files) || [];
    box.replaceChildren();
    if (!files.length) return;
    const h = document.createElement("h2");
    h.textContent = "Results";
    const ul = document.createElement("ul");
    for (const f of files) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = f.url + "?download=1";
      a.textContent = f.label || f.name;
      li.append(a);
      ul.append(li);
    }
    box.append(h, ul);
  }

  function onEvent(ev) {
    if (typeof ev.progress === "number" && !ev.job) {
      job = { ...job, progress: ev.progress, metrics: { ...job.metrics, ...(ev.metrics || {}) } };
      render(job);
    }
    document.dispatchEvent(new CustomEvent("job:event", { detail: ev }));
  }

  async function act(action, body) {
    try {
      render(await Studio.postJSON(`/jobs/${job.id}/${action}/`, body));
    } catch (e) {
      $("job-error").hidden = false;
      $("job-error").textContent = e.message;
    }
  }

  $("job-cancel").addEventListener("click", () => act("cancel"));
  $("job-retry").addEventListener("click", () => act("retry"));

  render(initial);
  const conn = $("job-conn");
  Studio.jobSocket = new Studio.JobSocket(`/ws/jobs/${initial.id}/`, {
    onSnapshot: render,
    onEvent,
    isActive: () => job.status === "queued" || job.status === "running",
    onConnection: (state, why) => {
      conn.className = "small conn-" + state;
      conn.title = why || `live connection: ${state}`;
      if (state === "denied") { $("job-error").hidden = false; $("job-error").textContent = why; }
    },
  });
  Studio.currentJob = () => job;
  Studio.jobAction = act;
})();
