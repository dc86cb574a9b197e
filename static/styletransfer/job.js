// Style-transfer job page: the picture forming (preview, then the result), the losses
// as a live log-scale plot, and the result's download. Everything is drawn from the job
// snapshot, which jobpage.js keeps current from the websocket's events.
import { $, make, readJSON } from "../webapp/dom.js";
import { formatSeconds } from "../webapp/format.js";
import { getJSON } from "../webapp/http.js";
import { watchJob } from "../webapp/jobpage.js";
import { LinePlot } from "../webapp/plot.js";
import { colourLabels, fromGreyRGBA } from "./regions.js";

const plot = new LinePlot($("st-plot"), { xLabel: "step", logY: true });
const SERIES = [["total", 1], ["content", 2], ["style", 3], ["TV", 4]]; // [name, column]
let plotted = -1;

function showPicture(url, title) {
  const img = $("st-preview");
  if (url && img.getAttribute("src") !== url) img.src = url;
  img.hidden = !url;
  $("st-waiting").hidden = !!url;
  $("st-canvas-title").textContent = title;
}

function drawPlot(history) {
  if (!history || !history.length) return;
  const last = history[history.length - 1][0];
  if (last === plotted && history.length > 1) return;
  plotted = last;
  // log scale: a zero loss (e.g. no smoothing) has no place on it
  plot.update(SERIES.map(([name, col]) => ({
    name, points: history.map((row) => [row[0], row[col] > 0 ? row[col] : NaN]),
  })));
}

function render(job) {
  const m = job.metrics || {};
  const r = job.result || {};
  drawPlot(m.history);
  if (r.image_url) {
    showPicture(r.image_url, r.stopped ? "Result (stopped early)" : "Result");
    $("st-result-bar").hidden = false;
    $("st-download").href = r.image_url + "?download=1";
    $("st-result-meta").textContent =
      `${r.width}×${r.height} px · ${r.steps} steps · ${formatSeconds(r.seconds)} on ${r.device}`;
    const recipe = (r.files || []).find((f) => f.name === "recipe.json");
    $("st-recipe").hidden = !recipe;
    if (recipe) $("st-recipe").href = recipe.url + "?download=1";
    $("st-step").textContent = "";
    showComparison(r.image_url);
    return;
  }
  $("st-result-bar").hidden = true;
  showPicture(m.preview_url, "Preview");
  if (job.status === "queued") $("st-waiting").textContent = "Waiting for a worker…";
  else if (job.status === "running") $("st-waiting").textContent = "Loading the network… the first picture appears after the first step.";
  else if (!m.preview_url) $("st-waiting").textContent = "No picture was made.";
  if (m.step) {
    const size = m.size ? ` · ${m.size[0]}×${m.size[1]} px` : "";
    const secs = m.seconds != null ? ` · ${formatSeconds(m.seconds)}` : "";
    $("st-step").textContent = `step ${m.step} of ${m.total_steps}${size}${secs}` +
      (m.device ? ` · ${m.device}` : "");
  }
}

// Before / after: the result over the photo, or over an earlier result of the same photo,
// split where the slider is.
let compared = "";
async function showComparison(resultURL) {
  if (compared === resultURL) return;
  compared = resultURL;
  $("st-after").src = resultURL;
  const choices = await getJSON(readJSON("st-compare-url"));
  const select = $("st-compare-with");
  const urls = { photo: choices.photo };
  select.replaceChildren(make("option", { value: "photo", textContent: "the photo" }));
  for (const earlier of choices.earlier) {
    urls[earlier.id] = earlier.url;
    const when = new Date(earlier.created).toLocaleString();
    select.append(make("option", { value: earlier.id, textContent: `earlier result · ${earlier.size.join("×")} · ${when}` }));
  }
  const pick = () => { $("st-before").src = urls[select.value]; };
  select.onchange = pick;
  pick();
  $("st-before-after").hidden = false;
  slide();
}
function slide() {
  const at = Number($("st-slider").value);
  $("st-before").style.clipPath = `inset(0 ${100 - at}% 0 0)`;
  $("st-cut").style.left = `${at}%`;
}
$("st-slider").addEventListener("input", slide);
// Dragging on the pictures moves the cut too (the handle shows where it is).
$("st-compare").addEventListener("pointerdown", (event) => {
  const box = $("st-compare");
  const follow = (e) => {
    const r = box.getBoundingClientRect();
    $("st-slider").value = String(Math.round(Math.min(100, Math.max(0, (100 * (e.clientX - r.left)) / r.width))));
    slide();
  };
  box.setPointerCapture(event.pointerId);
  follow(event);
  box.onpointermove = follow;
  box.onpointerup = box.onpointercancel = () => { box.onpointermove = null; };
});

// The regions map is stored as grey values 0, 1, 2…: near black. Show it in the
// painter's colours instead.
function colourRegions(img) {
  const { naturalWidth: width, naturalHeight: height } = img;
  const scratch = new OffscreenCanvas(width, height);
  const draw = scratch.getContext("2d");
  draw.drawImage(img, 0, 0);
  const map = fromGreyRGBA(draw.getImageData(0, 0, width, height).data, width, height);
  draw.putImageData(new ImageData(colourLabels(map), width, height), 0, 0);
  scratch.convertToBlob({ type: "image/png" }).then((blob) => {
    const reader = new FileReader();
    reader.onload = () => { img.src = reader.result; img.dataset.coloured = "yes"; };
    reader.readAsDataURL(blob);
  });
}
const regions = document.querySelector("img.st-labels");
if (regions) {
  if (regions.complete && regions.naturalWidth) colourRegions(regions);
  else regions.addEventListener("load", () => colourRegions(regions), { once: true });
}

watchJob({ onSnapshot: render });
