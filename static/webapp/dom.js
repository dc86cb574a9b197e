// DOM helpers every page module uses.

/** The element with this id (or null). */
export const $ = (id) => document.getElementById(id);

/** The value the server put in the page with Django's `json_script` under this id. */
export function readJSON(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** A new element: `make("td", {className: "muted", textContent: "–"}, child, ...)`. */
export function make(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

/** Run `fn` once the page's modules have all run (module scripts run before DOMContentLoaded). */
export function whenLoaded(fn) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn, { once: true });
  else fn();
}
