// What the two comparisons on the job page share (windowsview.js, proposalsview.js):
// SVG elements over the picture and the words for a way's cost.
export const SVG = "http://www.w3.org/2000/svg";

export function svg(name, attrs = {}, text = "") {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
}

export const gmac = (n) => `${(n / 1e9).toFixed(1)} G multiply-adds`;
export const secs = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`);
