// An explain job's page: a picture with its Grad-CAM, saliency and top classes; or one
// confusion-matrix cell's validation pictures, most confident first, with their Grad-CAM.
import { make } from "../webapp/dom.js";
import { formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";

const $ = (id) => document.getElementById(id);

function backLink(run) {
  $("ex-back").replaceChildren(make("a", { href: `/jobs/${run}/`, textContent: "back to the run" }));
}

function drawPicture(e) {
  $("ex-summary").textContent = `The net predicts “${e.predicted}”. The maps explain “${e.target}” at layer ${e.layer}.`;
  for (const key of ["input", "gradcam", "saliency"]) $(`ex-${key}`).src = e.images[key];
  const body = document.querySelector("#ex-top tbody");
  body.replaceChildren();
  for (const t of e.top) {
    const tr = body.insertRow();
    tr.insertCell().textContent = t.label;
    tr.insertCell().textContent = formatPercent(t.probability);
  }
  backLink(e.run);
}

function drawCell(c) {
  $("ex-cell-summary").textContent = c.items.length
    ? `${c.items.length} validation picture(s) of “${c.true}” that the trained net calls “${c.predicted}”, most confident first; Grad-CAM for “${c.predicted}” at layer ${c.layer}.`
    : `No validation picture of “${c.true}” is called “${c.predicted}” by the trained net (the matrix shown may be from an earlier epoch).`;
  $("ex-cell").replaceChildren(...c.items.map((item) => make("figure", {},
    make("img", { src: item.input, alt: `picture ${item.index}` }),
    make("img", { src: item.gradcam, alt: `Grad-CAM of picture ${item.index}` }),
    make("figcaption", { textContent: `#${item.index}: ${formatPercent(item.confidence)} “${c.predicted}”` }))));
  backLink(c.run);
}

function drawUnit(u) {
  $("ex-unit-summary").textContent = `Unit ${u.channel} of ${u.layer}: its activation rose from ${u.activation[0].toPrecision(3)} to ${u.activation[1].toPrecision(3)} while the picture was optimised.`;
  $("ex-patches").replaceChildren(...u.patches.map((p) => make("figure", {},
    make("img", { src: p.image, alt: `patch of picture ${p.index}` }),
    make("figcaption", { textContent: `#${p.index}: ${p.activation.toPrecision(3)}` }))));
  $("ex-optimised").src = u.optimised;
  backLink(u.run);
}

// The VGG19 gallery: one row per layer, filled as the worker finishes each unit.
function drawGallery(rows) {
  const box = $("gallery");
  if (!box) return;
  box.replaceChildren(...rows.map((row) => make("div", { className: "pg-gallery-row" },
    make("h3", { textContent: row.layer }),
    ...row.units.map((u) => make("figure", {},
      make("img", { src: u.image, alt: `${row.layer} unit ${u.channel}` }),
      make("figcaption", { textContent: `unit ${u.channel}` }))))));
}

watchJob({
  onSnapshot: (job) => {
    const result = job.result || {};
    if (result.explain) drawPicture(result.explain);
    if (result.cell) drawCell(result.cell);
    if (result.unit) drawUnit(result.unit);
    const gallery = result.gallery || (job.metrics || {}).gallery;
    if (gallery) drawGallery(gallery);
  },
  onEvent: (event) => {
    if (event.type === "gallery" && event.metrics && event.metrics.gallery) drawGallery(event.metrics.gallery);
  },
});
