// Numbers and durations as every page shows them. Pure: the Node tests import it.

// Python's round(): halves go to the even neighbour (round(2.5) == 2).
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 12.3 -> "12 s", 125 -> "2 min 5 s", 7380 -> "2 h 3 min"; null -> "–".
 *  The same text as the `seconds` template filter (webapp/templatetags/studio.py). */
export function formatSeconds(value) {
  if (value == null || !Number.isFinite(value)) return "–";
  const total = roundHalfEven(value);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60), secs = total % 60;
  if (minutes < 60) return `${minutes} min ${secs} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** 12345 -> "12,345"; null -> "–". */
export function formatCount(n) {
  return n == null || !Number.isFinite(Number(n)) ? "–" : Number(n).toLocaleString("en-US");
}

/** 1234 -> "1.2 k", 2500000 -> "2.50 M". */
export function formatCompact(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
  return String(n);
}

/** 0.4567 -> "45.7%"; null -> "–". */
export function formatPercent(x) {
  return x == null || !Number.isFinite(x) ? "–" : (100 * x).toFixed(1) + "%";
}

/** 0.000123456 -> "0.0001235" (`digits` significant); null or not finite -> "–". */
export function formatNumber(x, digits = 4) {
  return x == null || !Number.isFinite(x) ? "–" : String(+(+x).toPrecision(digits));
}

/** 2048 -> "2 KB", 3 * 2**20 -> "3.0 MB". */
export function formatBytes(n) {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

/** The job page's line of facts: worker, device, how long it waited and ran, time left,
 *  attempt. "waited" is since it was last queued (`queued_at`: a resumed run's pause is
 *  not waiting, Job.wait_seconds measures the same), not since it was created. */
export function jobMeta(j) {
  const started = j.started_at ? new Date(j.started_at) : null;
  const finished = j.finished_at ? new Date(j.finished_at) : null;
  const queued = new Date(j.queued_at || j.created_at);
  const parts = [];
  if (j.worker) parts.push(`worker ${j.worker}`);
  if (j.metrics && j.metrics.device) parts.push(`device ${j.metrics.device}`);
  if (started) parts.push(`waited ${formatSeconds(Math.max(0, (started - queued) / 1000))}`);
  if (started && finished) parts.push(`ran ${formatSeconds((finished - started) / 1000)}`);
  const eta = j.metrics && j.metrics.eta_s;  // measured by the worker (webapp/runner.py)
  if (j.status === "running" && eta != null) parts.push(`about ${formatSeconds(eta)} left`);
  if (j.attempts > 1) parts.push(`attempt ${j.attempts}`);
  return parts;
}
