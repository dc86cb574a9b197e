// A training run's job page: the live view (runview.js) kept current by the job socket,
// live controls, trying the trained model on a picture (an explain job on the worker,
// watched here until it answers) and sharing a read-only link. The URLs come from the
// server (`pg-run`); which forms exist, the task registry decided there.
import { $, make, readJSON } from "../webapp/dom.js";
import { formatPercent } from "../webapp/format.js";
import { postJSON } from "../webapp/http.js";
import { currentJob, jobAction, watchJob } from "../webapp/jobpage.js";
import { JobSocket } from "../webapp/jobsocket.js";
import { siteURL } from "../webapp/site.js";
import { runView } from "./runview.js";

const PAGE = readJSON("pg-run"); // {predict_url, share_url, shared_url}

const view = runView(currentJob(), { control: (body) => jobAction("control", body) });
watchJob({
  onSnapshot: (job) => { view.fromSnapshot(job); showAfter(job); },
  onEvent: view.onEvent,
});

// ---- the trained model: predict, share --------------------------------------------
function showAfter(job) {
  const box = $("pg-after");
  if (!box) return;
  box.hidden = !(job.result?.files || []).some((f) => f.name === "model.pt");
  showShare(PAGE.shared_url ? new URL(PAGE.shared_url, location.origin).href : null);
}

const predictForm = $("predict-form");
predictForm?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("predict-out");
  const file = predictForm.picture.files[0];
  if (!file) { out.textContent = "Choose a picture first."; return; }
  out.textContent = "Predicting on the worker…";
  const data = new FormData();
  data.append("picture", file);
  let asked;
  try {
    asked = await postJSON(PAGE.predict_url, data);
  } catch (e) {
    out.textContent = e.message;
    return;
  }
  const socket = new JobSocket(siteURL("job_socket", { id: asked.id }), {
    onSnapshot: (j) => {
      if (j.status === "failed" || j.status === "cancelled") {
        out.textContent = j.error || "The prediction was cancelled.";
        socket.stop();
      } else if (j.status === "succeeded") {
        const ol = make("ol", {}, ...j.result.predictions.map((p) => make("li", { textContent: `${p.label}: ${formatPercent(p.probability)}` })));
        const img = make("img", { src: URL.createObjectURL(file), alt: "your picture", className: "pg-predict-picture" });
        out.replaceChildren(img, ol);
        socket.stop();
      }
    },
    isActive: () => true,
  });
  socket.start();
});

function showShare(url) {
  const a = $("share-url");
  if (!a) return;
  a.hidden = !url; a.href = url || "#"; a.textContent = url || "";
  $("unshare-run").hidden = !url;
  $("share-run").textContent = url ? "Copy the read-only link" : "Make a read-only link";
}

$("share-run")?.addEventListener("click", async () => {
  const answer = await postJSON(PAGE.share_url, {});
  PAGE.shared_url = answer.url;
  showShare(answer.url);
  navigator.clipboard?.writeText(answer.url).catch(() => {});
});
$("unshare-run")?.addEventListener("click", async () => {
  await postJSON(PAGE.share_url, { off: true });
  PAGE.shared_url = "";
  showShare(null);
});
