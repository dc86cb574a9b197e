// Staff dashboard: redraws from the stats the server pushes every few seconds, and the
// history charts from the history it pushes less often (or at once, for a new window).
import { $, make, readJSON } from "./dom.js";
import { formatPercent, formatSeconds } from "./format.js";
import { historySeries, timeAxis } from "./history.js";
import { postJSON } from "./http.js";
import { LiveSocket } from "./livesocket.js";
import { LinePlot } from "./plot.js";
import { siteURL } from "./site.js";

function cell(row, content) {
  const td = make("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  row.append(td);
  return td;
}

function actionButton(label, jobId, action) {
  const b = make("button", { className: "button small ghost", textContent: label });
  b.dataset.action = action;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await postJSON(siteURL(`job_${action}`, { id: jobId })); } catch (e) { alert(e.message); }
  });
  return b;
}

function bar(p) {
  const inner = make("div");
  inner.style.width = Math.round(p * 100) + "%";
  return make("div", { className: "bar" }, inner);
}

function tile(label, value, id) {
  const t = make("div", { className: "tile" }, make("b", { textContent: value }), make("span", { textContent: label }));
  if (id) t.id = id;
  return t;
}

function emptyRow(columns, text) {
  return make("tr", {}, make("td", { colSpan: columns, className: "muted", textContent: text }));
}

const gib = (mb) => `${(mb / 1024).toFixed(mb >= 10240 ? 0 : 1)} GiB`;

function queueTile(name, q, warnS) {
  const t = tile(`waiting in “${name}”`, q.jobs, `queue-${name}`);
  const oldest = q.oldest_s == null ? "none waiting" : `oldest ${formatSeconds(q.oldest_s)}`;
  const age = make("small", { className: "age", textContent: oldest });
  age.dataset.late = q.late ? "yes" : "no";
  if (q.late) {
    t.classList.add("late");
    age.title = `waited longer than ${formatSeconds(warnS)}`;
  }
  t.append(age, make("small", { textContent: q.messages == null ? "broker unreachable" : `${q.messages} messages in the broker` }));
  if (q.yielded) t.append(make("small", { className: "yielded", textContent: `${q.yielded} yielded to a waiting job, resuming on their own` }));
  const staff = q.workers ? `${q.workers} worker${q.workers === 1 ? "" : "s"} · holds jobs up to ${gib(q.capacity_mb)}` : "no live worker";
  t.append(make("small", { className: "staff", textContent: staff }));
  return t;
}

function gpuText(w) {
  const g = w.stats && w.stats.gpu;
  if (!g) return "no GPU";
  const used = g.used_mb == null ? "?" : gib(g.used_mb);
  const util = g.util_percent == null ? "" : ` · ${g.util_percent}% busy`;
  const mine = g.source === "nvml" ? ` (this process ${gib(g.process_reserved_mb)})` : " (torch's counters)";
  return `${used} / ${gib(g.total_mb)}${util}${mine}`;
}

function releaseText(w) {
  const r = w.stats && w.stats.last_release;
  if (!r) return null;
  const freed = Math.max(0, r.before_mb - r.after_mb);
  return `gave back ${freed.toFixed(0)} MB after its last job (${r.status}): ${r.before_mb.toFixed(0)} → ${r.after_mb.toFixed(0)} MB held`;
}

function workerRow(w) {
  const tr = make("tr", { className: w.online ? "" : "lost" });
  tr.dataset.worker = w.name;
  const s = w.stats || {};
  const name = cell(tr, w.name);
  name.append(make("div", { className: "muted small", textContent: w.queues ? `queues ${w.queues} · holds ${gib(w.capacity_mb)}` : "no queue" }));
  if (s.refused) {
    tr.classList.add("refused");
    name.append(make("div", { className: "refused-why", textContent: s.refused }));
  }
  cell(tr, w.memory_mb ? `${w.device} · ${gib(w.memory_mb)}` : w.device);
  const gpu = cell(tr, gpuText(w));
  gpu.className = "gpu";
  const release = releaseText(w);
  if (release) gpu.append(make("div", { className: "muted small release", textContent: release }));
  cell(tr, s.rss_mb == null ? "–" : `${s.cpu_percent.toFixed(0)}% · ${s.rss_mb.toFixed(0)} MB`);
  cell(tr, w.job ? make("a", { href: w.job.url, textContent: w.job.label }) : "idle");
  cell(tr, s.jobs_done == null ? "–" : `${s.jobs_done}${s.jobs_failed ? ` (${s.jobs_failed} failed)` : ""}`);
  cell(tr, w.online ? `${formatSeconds(w.last_seen_s)} ago` : `lost: silent for ${formatSeconds(w.last_seen_s)}`);
  return tr;
}

function failureCell(j) {
  const box = make("div", {}, make("b", { textContent: j.exception || "" }), document.createTextNode(` ${j.message || j.error}`));
  if (j.traceback) {
    box.append(make("details", {}, make("summary", { textContent: `Traceback · ${j.worker || "?"} · ${j.device || "?"}` }),
      make("pre", { className: "traceback", tabIndex: 0, textContent: j.traceback })));
  }
  return box;
}

function render(s) {
  if ((s.kind || "") !== $("history-kind").value) return;  // pushed before the page chose another kind
  $("dash-queues").replaceChildren(...Object.entries(s.queues).map(([name, q]) => queueTile(name, q, s.oldest_warn_s)));
  const tiles = [];
  for (const [st, n] of Object.entries(s.by_state)) tiles.push(tile(st, n, `state-${st}`));
  tiles.push(tile("done in the last hour", s.throughput_per_hour));
  tiles.push(tile("median wait", formatSeconds(s.median_wait_s)));
  tiles.push(tile("median run", formatSeconds(s.median_run_s)));
  $("dash-tiles").replaceChildren(...tiles);

  const run = $("dash-running").tBodies[0];
  run.replaceChildren(...s.running.map((j) => {
    const tr = make("tr");
    tr.dataset.job = j.id;
    cell(tr, make("a", { href: j.url, textContent: j.label })); cell(tr, j.user);
    cell(tr, bar(j.progress)).title = formatPercent(j.progress);
    const eta = j.eta_s == null ? "–" : `about ${formatSeconds(j.eta_s)}`;
    cell(tr, j.cancel_requested ? "cancelling" : j.yielding ? "yielding to a waiting job" : eta).className = "eta";
    cell(tr, j.worker);
    const acts = cell(tr, actionButton("Cancel", j.id, "cancel"));
    acts.append(actionButton("Requeue", j.id, "requeue"));
    return tr;
  }));
  if (!s.running.length) run.replaceChildren(emptyRow(6, "Nothing running."));

  const wk = $("dash-workers").tBodies[0];
  wk.replaceChildren(...s.workers.map(workerRow));
  if (!s.workers.length) wk.replaceChildren(emptyRow(7, "No worker has reported in."));

  const fl = $("dash-failures").tBodies[0];
  fl.replaceChildren(...s.failures.map((j) => {
    const tr = make("tr");
    tr.dataset.job = j.id;
    cell(tr, make("a", { href: j.url, textContent: j.label })); cell(tr, j.user); cell(tr, failureCell(j));
    cell(tr, j.finished_at ? new Date(j.finished_at).toLocaleTimeString() : "");
    cell(tr, actionButton("Retry", j.id, "retry"));
    return tr;
  }));
  if (!s.failures.length) fl.replaceChildren(emptyRow(5, "No failures."));
}

const charts = {
  finished: new LinePlot($("chart-finished"), { yMin: 0 }),
  depth: new LinePlot($("chart-depth"), { yMin: 0 }),
  wait: new LinePlot($("chart-wait"), { yMin: 0 }),
  run: new LinePlot($("chart-run"), { yMin: 0 }),
};

function renderHistory(h) {
  const now = Date.now() / 1000;
  const series = historySeries(h, now);
  const { label, x, tick } = timeAxis(h, now);
  for (const [name, plot] of Object.entries(charts)) {
    Object.assign(plot.opts, { xLabel: label, xMin: x(h.times[0]), xMax: 0, xTick: tick });
    plot.update(series[name]);
  }
  $("dash-history").dataset.window = h.window;
  $("dash-history").dataset.kind = h.kind;
  $("dash-kind-note").hidden = !h.kind;
}

render(readJSON("dash-initial"));
renderHistory(readJSON("dash-history-initial"));
const conn = $("dash-conn");
const socket = new LiveSocket(siteURL("dashboard_socket"), {
  onMessage: (msg) => {
    if (msg.type === "dashboard") render(msg.stats);
    if (msg.type === "history") renderHistory(msg.history);
  },
  onState: (state, why) => {
    conn.textContent = { live: "live", reconnecting: "reconnecting…" }[state] || why;
    // a new socket starts from the last hour of every kind
    if (state === "live" && ($("history-window").value !== "hour" || $("history-kind").value)) askHistory();
  },
  reasons: { 4401: "staff only", 4403: "staff only" },
});
function askHistory() {
  socket.send({ type: "history", window: $("history-window").value, kind: $("history-kind").value });
}
$("history-window").addEventListener("change", askHistory);
$("history-kind").addEventListener("change", askHistory);
socket.start();
