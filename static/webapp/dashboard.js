// Staff dashboard: redraws from the stats the server pushes every few seconds.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const fmt = (s) => (s == null ? "–" : s < 60 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
    row.append(td);
    return td;
  }

  function link(url, text) {
    const a = document.createElement("a");
    a.href = url; a.textContent = text;
    return a;
  }

  function actionButton(label, jobId, action) {
    const b = document.createElement("button");
    b.className = "button small ghost";
    b.textContent = label;
    b.dataset.action = action;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try { await Studio.postJSON(`/jobs/${jobId}/${action}/`); } catch (e) { alert(e.message); }
    });
    return b;
  }

  function bar(p) {
    const outer = document.createElement("div");
    outer.className = "bar";
    const inner = document.createElement("div");
    inner.style.width = Math.round(p * 100) + "%";
    outer.append(inner);
    return outer;
  }

  function tile(label, value, id) {
    const t = document.createElement("div");
    t.className = "tile";
    if (id) t.id = id;
    const v = document.createElement("b");
    v.textContent = value;
    const l = document.createElement("span");
    l.textContent = label;
    t.append(v, l);
    return t;
  }

  function render(s) {
    const tiles = [];
    for (const [q, n] of Object.entries(s.queues)) tiles.push(tile(`waiting in “${q}”`, n == null ? "?" : n, `queue-${q}`));
    for (const [st, n] of Object.entries(s.by_state)) tiles.push(tile(st, n, `state-${st}`));
    tiles.push(tile("done in the last hour", s.throughput_per_hour));
    tiles.push(tile("median wait", fmt(s.median_wait_s)));
    tiles.push(tile("median run", fmt(s.median_run_s)));
    $("dash-tiles").replaceChildren(...tiles);

    const run = $("dash-running").tBodies[0];
    run.replaceChildren(...s.running.map((j) => {
      const tr = document.createElement("tr");
      tr.dataset.job = j.id;
      cell(tr, link(j.url, j.label)); cell(tr, j.user); cell(tr, bar(j.progress)); cell(tr, j.worker);
      const acts = cell(tr, actionButton("Cancel", j.id, "cancel"));
      acts.append(actionButton("Requeue", j.id, "requeue"));
      return tr;
    }));
    if (!s.running.length) run.innerHTML = '<tr><td colspan="5" class="muted">Nothing running.</td></tr>';

    const wk = $("dash-workers").tBodies[0];
    wk.replaceChildren(...s.workers.map((w) => {
      const tr = document.createElement("tr");
      tr.className = w.online ? "" : "offline";
      cell(tr, w.name);
      cell(tr, w.memory_mb ? `${w.device} · ${(w.memory_mb / 1024).toFixed(0)} GiB` : w.device);
      cell(tr, w.queues);
      cell(tr, w.online ? `${w.last_seen_s} s ago` : `offline (${fmt(w.last_seen_s)})`);
      return tr;
    }));
    if (!s.workers.length) wk.innerHTML = '<tr><td colspan="4" class="muted">No worker has reported in.</td></tr>';

    const fl = $("dash-failures").tBodies[0];
    fl.replaceChildren(...s.failures.map((j) => {
      const tr = document.createElement("tr");
      cell(tr, link(j.url, j.kind)); cell(tr, j.user); cell(tr, j.error);
      cell(tr, j.finished_at ? new Date(j.finished_at).toLocaleTimeString() : "");
      cell(tr, actionButton("Retry", j.id, "retry"));
      return tr;
    }));
    if (!s.failures.length) fl.innerHTML = '<tr><td colspan="5" class="muted">No failures.</td></tr>';
  }

  render(JSON.parse($("dash-initial").textContent));
  let retry = 0;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/dashboard/");
    ws.onopen = () => { retry = 0; $("dash-conn").textContent = "live"; };
    ws.onmessage = (m) => { const ev = JSON.parse(m.data); if (ev.type === "dashboard") render(ev.stats); };
    ws.onclose = (ev) => {
      if (ev.code === 4403 || ev.code === 4401) { $("dash-conn").textContent = "staff only"; return; }
      $("dash-conn").textContent = "reconnecting…";
      setTimeout(connect, Math.min(10000, 500 * 2 ** retry++));
    };
  }
  connect();
})();
