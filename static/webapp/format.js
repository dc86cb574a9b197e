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
