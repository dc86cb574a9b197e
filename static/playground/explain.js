// An explain job's page: a picture's top classes; a picture with its Grad-CAM, saliency
// and top classes; one confusion-matrix cell's validation pictures, most confident first,
// with their Grad-CAM; one unit's top patches; or VGG19's unit gallery.
import { make } from "../webapp/dom.js";
import { formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";

const $ = (id) => document.getElementById(id);

function backLink(run) {
  $("ex-back").replaceChildren(make("a", { href: `/jobs/${run}/`, textContent: "back to the run" }));
}

// A table of classes and their probabilities, best first.
function classTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = row.label;
    tr.insertCell().textContent = formatPercent(row.probability);
  }
}

function drawPicture(e) {
  $("ex-summary").textContent = `The net predicts “${e.predicted}”. The maps explain “${e.target}” at ${e.layer}.`;
  for (const key of ["input", "gradcam", "saliency"]) $(`ex-${key}`).src = e.images[key];
  classTable("ex-top", e.top);
  backLink(e.run);
}

function drawPredictions(result) {
  const top = result.predictions[0];
  $("ex-predict-summary").textContent = `The net says “${top.label}” (${formatPercent(top.probability)}).`;
  classTable("ex-predictions", result.predictions);
  backLink(result.run);
}

// A failed explanation says why where the answer would be, not "Waiting for the worker…".
function drawFailure(job) {
  const box = document.querySelector("[id^=ex-][id$=summary]");
  if (box) box.textContent = `The worker could not answer: ${job.error}`;
}

function drawCell(c) {
  $("ex-cell-summary").textContent = c.items.length
    ? `${c.items.length} validation picture(s) of “${c.true}” that the trained net calls “${c.predicted}”, most confident first; Grad-CAM for “${c.predicted}” at ${c.layer}.`
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
// A unit whose activation stayed 0 on every step (u.activation: [first, last]) left its
// picture where it began: near-grey.
const silent = (u) => Array.isArray(u.activation) && Math.max(...u.activation) <= 0;

function drawGallery(rows) {
  const box = $("gallery");
  if (!box) return;
  box.replaceChildren(...rows.map((row) => make("div", { className: "pg-gallery-row" },
    make("h3", { textContent: row.layer }),
    ...row.units.map((u) => make("figure", { className: silent(u) ? "silent" : "" },
      make("img", { src: u.image, alt: `${row.layer} unit ${u.channel}${silent(u) ? " (stayed grey)" : ""}` }),
      make("figcaption", { textContent: `unit ${u.channel}${silent(u) ? " · silent*" : ""}` }))))));
  const note = $("gallery-silent");
  if (note) note.hidden = !rows.some((row) => row.units.some(silent));
}

watchJob({
  onSnapshot: (job) => {
    const result = job.result || {};
    if (job.status === "failed") drawFailure(job);
    if (result.predictions) drawPredictions(result);
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
