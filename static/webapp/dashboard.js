// Staff dashboard: redraws from the stats the server pushes every few seconds.
import { $, make, readJSON } from "./dom.js";
import { formatSeconds } from "./format.js";
import { postJSON } from "./http.js";
import { LiveSocket } from "./livesocket.js";
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

function render(s) {
  const tiles = [];
  for (const [q, n] of Object.entries(s.queues)) tiles.push(tile(`waiting in “${q}”`, n == null ? "?" : n, `queue-${q}`));
  for (const [st, n] of Object.entries(s.by_state)) tiles.push(tile(st, n, `state-${st}`));
  tiles.push(tile("done in the last hour", s.throughput_per_hour));
  tiles.push(tile("median wait", formatSeconds(s.median_wait_s)));
  tiles.push(tile("median run", formatSeconds(s.median_run_s)));
  $("dash-tiles").replaceChildren(...tiles);

  const run = $("dash-running").tBodies[0];
  run.replaceChildren(...s.running.map((j) => {
    const tr = make("tr");
    tr.dataset.job = j.id;
    cell(tr, make("a", { href: j.url, textContent: j.label })); cell(tr, j.user); cell(tr, bar(j.progress)); cell(tr, j.worker);
    const acts = cell(tr, actionButton("Cancel", j.id, "cancel"));
    acts.append(actionButton("Requeue", j.id, "requeue"));
    return tr;
  }));
  if (!s.running.length) run.replaceChildren(emptyRow(5, "Nothing running."));

  const wk = $("dash-workers").tBodies[0];
  wk.replaceChildren(...s.workers.map((w) => {
    const tr = make("tr", { className: w.online ? "" : "offline" });
    cell(tr, w.name);
    cell(tr, w.memory_mb ? `${w.device} · ${(w.memory_mb / 1024).toFixed(0)} GiB` : w.device);
    cell(tr, w.queues);
    cell(tr, w.online ? `${formatSeconds(w.last_seen_s)} ago` : `offline (${formatSeconds(w.last_seen_s)})`);
    return tr;
  }));
  if (!s.workers.length) wk.replaceChildren(emptyRow(4, "No worker has reported in."));

  const fl = $("dash-failures").tBodies[0];
  fl.replaceChildren(...s.failures.map((j) => {
    const tr = make("tr");
    cell(tr, make("a", { href: j.url, textContent: j.kind })); cell(tr, j.user); cell(tr, j.error);
    cell(tr, j.finished_at ? new Date(j.finished_at).toLocaleTimeString() : "");
    cell(tr, actionButton("Retry", j.id, "retry"));
    return tr;
  }));
  if (!s.failures.length) fl.replaceChildren(emptyRow(5, "No failures."));
}

render(readJSON("dash-initial"));
const conn = $("dash-conn");
new LiveSocket(siteURL("dashboard_socket"), {
  onMessage: (msg) => { if (msg.type === "dashboard") render(msg.stats); },
  onState: (state, why) => { conn.textContent = { live: "live", reconnecting: "reconnecting…" }[state] || why; },
  reasons: { 4401: "staff only", 4403: "staff only" },
}).start();
