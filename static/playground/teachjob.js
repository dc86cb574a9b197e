// A teach job's page: what it learned (accuracy, classes), whether it is still serving
// the teach page's frames, and how many it answered. Files are listed by jobpage.js.
import { $ } from "../webapp/dom.js";
import { formatPercent } from "../webapp/format.js";
import { watchJob } from "../webapp/jobpage.js";

function draw(job) {
  const info = job.result?.teach || job.metrics?.teach;
  if (job.status === "failed") { $("teach-summary").textContent = `Training failed: ${job.error}`; return; }
  if (!info) return;
  const scored = info.held_out ? "on held-out pictures" : "on the training pictures";
  const accuracy = `Trained in ${info.train_seconds} s on the worker, accuracy ${formatPercent(info.val_accuracy)} ${scored}`;
  $("teach-summary").textContent = job.status === "running"
    ? `${accuracy}. Serving the teach page's pictures now.`
    : `${accuracy}. It answered ${info.served ?? 0} picture(s) before it ended${info.ended === "yielded" ? ": another user needed the worker" : ""}.`;
  $("teach-summary").dataset.state = job.status;
}

watchJob({ onSnapshot: draw });
