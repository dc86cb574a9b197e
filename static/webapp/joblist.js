// "My jobs": rows of queued or running jobs refresh themselves until they finish.
(function () {
  "use strict";
  const ACTIVE = new Set(["queued", "running"]);

  async function refresh(row) {
    const resp = await fetch(`/jobs/${row.dataset.job}.json`, { credentials: "same-origin" });
    if (!resp.ok) return false;
    const job = await resp.json();
    const badge = row.querySelector(".badge");
    badge.textContent = job.status;
    badge.className = "badge " + job.status;
    row.querySelector(".bar > div").style.width = Math.round(job.progress * 100) + "%";
    return ACTIVE.has(job.status);
  }

  const rows = [...document.querySelectorAll("tr[data-job]")].filter((r) =>
    ACTIVE.has(r.querySelector(".badge").textContent.trim()));
  if (!rows.length) return;
  let live = rows;
  const timer = setInterval(async () => {
    const still = await Promise.all(live.map((r) => refresh(r).catch(() => true)));
    live = live.filter((_, i) => still[i]);
    if (!live.length) clearInterval(timer);
  }, 2000);
})();
