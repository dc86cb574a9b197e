// An explain job's page: the picture, its Grad-CAM and saliency, the top classes.
import { formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";

const $ = (id) => document.getElementById(id);

watchJob({
  onSnapshot: (job) => {
    const e = (job.result || {}).explain;
    if (!e) return;
    $("ex-summary").textContent = `The net predicts “${e.predicted}”. The maps explain “${e.target}” at layer ${e.layer}.`;
    for (const key of ["input", "gradcam", "saliency"]) $(`ex-${key}`).src = e.images[key];
    const body = document.querySelector("#ex-top tbody");
    body.replaceChildren();
    for (const t of e.top) {
      const tr = body.insertRow();
      tr.insertCell().textContent = t.label;
      tr.insertCell().textContent = formatPercent(t.probability);
    }
    const link = document.createElement("a");
    link.href = `/jobs/${e.run}/`;
    link.textContent = "back to the run";
    $("ex-back").replaceChildren(link);
  },
});
