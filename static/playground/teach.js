// Teach it your own objects: classes filled from the camera (hold to record a burst) or
// dropped files, trained on the worker, then tried live: each frame goes to the worker
// and comes back as a `prediction` event with per-class confidences. Nothing captured is
// lost when the server refuses something: the pictures stay here until trained.
import { $, make, readJSON } from "../webapp/dom.js";
import { formatPercent } from "../webapp/format.js";
import { postJSON } from "../webapp/http.js";
import { JobSocket } from "../webapp/jobsocket.js";
import { siteURL } from "../webapp/site.js";

const classes = []; // [{name, pictures: [Blob]}]
let stream = null, job = null, live = null;
const sentAt = new Map(); // frame id -> performance.now() when sent
const roundTrips = [];

function showError(text) {
  $("teach-error").textContent = text;
  $("teach-error").hidden = !text;
}

// ---- classes -------------------------------------------------------------------------
function addClass(name) {
  const c = { name, pictures: [] };
  classes.push(c);
  drawClasses();
}

function thumbs(c) {
  return c.pictures.slice(-8).map((blob) => make("img", { src: URL.createObjectURL(blob), alt: "", className: "pg-thumb" }));
}

function drawClasses() {
  $("classes").replaceChildren(...classes.map((c, i) => {
    const name = make("input", { type: "text", value: c.name, maxLength: 40, className: "pg-class-name", id: `class-name-${i}` });
    name.addEventListener("input", () => { c.name = name.value; });
    const hold = make("button", { type: "button", className: "button small", textContent: "Hold to record" });
    hold.dataset.class = i;
    bindHold(hold, c);
    const files = make("input", { type: "file", multiple: true, accept: "image/*", id: `class-files-${i}` });
    files.dataset.class = i;
    files.addEventListener("change", () => { c.pictures.push(...files.files); drawClasses(); });
    const remove = make("button", { type: "button", className: "linklike small", textContent: "remove class" });
    remove.addEventListener("click", () => { classes.splice(i, 1); drawClasses(); });
    const clear = make("button", { type: "button", className: "linklike small", textContent: "clear pictures" });
    clear.addEventListener("click", () => { c.pictures = []; drawClasses(); });
    const box = make("div", { className: "pg-teach-class" },
      make("div", { className: "pg-controls" },
        make("label", { className: "pg-teach-field", htmlFor: name.id }, "Class name"), name, hold,
        make("label", { className: "pg-teach-field", htmlFor: files.id }, "Add pictures"), files,
        make("span", { className: "hint pg-count", textContent: `${c.pictures.length} pictures` }), clear, remove),
      make("div", { className: "pg-thumbs" }, ...thumbs(c)));
    box.dataset.class = i;
    box.addEventListener("dragover", (e) => e.preventDefault());
    box.addEventListener("drop", (e) => {
      e.preventDefault();
      c.pictures.push(...[...e.dataTransfer.files].filter((f) => f.type.startsWith("image/")));
      drawClasses();
    });
    return box;
  }));
}

// ---- camera --------------------------------------------------------------------------
async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    $("camera-note").textContent = "This browser gives no camera here (a camera needs https or localhost). Drop pictures instead.";
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  } catch (e) {
    $("camera-note").textContent = `No camera: ${e.message || e.name}. Drop pictures onto the classes instead; nothing is lost.`;
    return;
  }
  $("camera").srcObject = stream;
  $("camera").hidden = false;
  $("camera-note").textContent = "Camera on. Hold a class's button to record.";
}

function grab() {
  const video = $("camera");
  if (!stream || !video.videoWidth) return Promise.resolve(null);
  const side = Math.min(video.videoWidth, video.videoHeight);
  const canvas = make("canvas", { width: 128, height: 128 });
  canvas.getContext("2d").drawImage(video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side, 0, 0, 128, 128);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
}

function bindHold(button, c) {
  let timer = null;
  const stop = () => { clearInterval(timer); timer = null; drawClasses(); };
  button.addEventListener("pointerdown", () => {
    if (!stream) { $("camera-note").textContent = "Start the camera first, or drop pictures."; return; }
    timer = setInterval(async () => {
      const blob = await grab();
      if (blob) c.pictures.push(blob);
      const count = button.parentElement.querySelector(".pg-count");
      if (count) count.textContent = `${c.pictures.length} pictures`;
    }, 100);
  });
  for (const ev of ["pointerup", "pointerleave", "pointercancel"]) button.addEventListener(ev, () => { if (timer) stop(); });
}

// ---- train ---------------------------------------------------------------------------
async function train() {
  showError("");
  const names = classes.map((c) => c.name.trim());
  if (classes.length < 2) return showError("Make at least two classes.");
  const empty = classes.find((c) => !c.pictures.length);
  if (empty) return showError(`Class “${empty.name}” has no pictures yet.`);
  const body = new FormData();
  body.append("classes", JSON.stringify(names));
  classes.forEach((c, i) => c.pictures.forEach((p, j) => body.append(`pictures-${i}`, p, p.name || `${i}-${j}.jpg`)));
  $("teach-status").textContent = "Sending the pictures…";
  const started = performance.now();
  let answer;
  try {
    answer = await postJSON(window.location.pathname, body);
  } catch (e) {
    $("teach-status").textContent = "";
    return showError(`${e.message} Your pictures are still here.`);
  }
  $("teach-status").textContent = "Training on the worker…";
  job = { ...answer, started, ready: false };
  live?.stop?.();
  const socket = new JobSocket(siteURL("job_socket", { id: answer.id }), {
    onSnapshot: (j) => {
      if (j.status === "failed") { showError(`${j.error} Your pictures are still here.`); $("teach-status").textContent = ""; }
      if (j.metrics?.teach && !job.ready && j.status === "running") ready(j.metrics.teach);
      if (job.ready && (j.status === "succeeded" || j.status === "cancelled")) ended(j.result?.teach?.ended);
    },
    onEvent: (ev) => {
      if (ev.type === "teach_ready") ready(ev);
      if (ev.type === "prediction") prediction(ev);
      if (ev.type === "teach_ended" && job.ready) ended(ev.reason);
    },
    isActive: () => true,
  });
  socket.start();
  live = socket;
}

function ready(info) {
  job.ready = true;
  const seconds = ((performance.now() - job.started) / 1000).toFixed(1);
  $("teach-status").textContent = `Ready after ${seconds} s (training ${info.train_seconds} s on the worker), accuracy ${formatPercent(info.val_accuracy)}${info.held_out ? " on held-out pictures" : " on the training pictures"}.`;
  $("teach-status").dataset.ready = "yes";
  $("teach-try").hidden = false;
  // one item per file, so the links never run together
  $("teach-files").replaceChildren(...info.files.map((f) => make("li", {},
    make("a", { href: `${f.url}?download=1`, textContent: f.label, className: "pg-export" }))));
  drawBars(info.classes.map(() => 0), info.classes);
}

// The job serves until it is stopped here, or until this page sends nothing for a few
// seconds (settings.TEACH_IDLE_S): then the worker is free for the next person.
async function stop() {
  if (!job) return;
  streaming = false;
  $("live-toggle").textContent = "Classify the camera live";
  try {
    await postJSON(siteURL("job_cancel", { id: job.id }), {});
  } catch (e) {
    return showError(e.message);
  }
  ended();
}

// `reason` "yielded": fair share gave the worker to another user's waiting job; the
// pictures are still here, so serving again is one click (it trains again in seconds).
function ended(reason) {
  job.ready = false;
  live?.stop?.();
  streaming = false;
  $("live-toggle").textContent = "Classify the camera live";
  const yielded = reason === "yielded";
  $("teach-status").textContent = yielded
    ? "Another user needed the worker, so the model stopped serving; start serving again when you like."
    : "The model has stopped serving: train again to try more pictures.";
  $("teach-status").dataset.ready = yielded ? "yielded" : "stopped";
  $("teach-again").hidden = !yielded;
  $("teach-try").hidden = true;
}

// ---- try it --------------------------------------------------------------------------
let frameNo = 0, streaming = false;

async function send(blob) {
  if (!job?.ready || !blob) return;
  const id = `f${++frameNo}`;
  const body = new FormData();
  body.append("frame", blob, "frame.jpg");
  body.append("id", id);
  sentAt.set(id, performance.now());
  try {
    await postJSON(job.frame_url, body);
  } catch (e) {
    sentAt.delete(id);
    showError(e.message);
  }
}

function prediction(ev) {
  const t0 = sentAt.get(ev.id);
  if (t0 !== undefined) {
    sentAt.delete(ev.id);
    roundTrips.push(performance.now() - t0);
    const sorted = [...roundTrips].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
    $("live-rtt").textContent = `round trip ${Math.round(roundTrips.at(-1))} ms, p95 ${Math.round(p95)} ms over ${roundTrips.length}`;
    $("live-rtt").dataset.count = roundTrips.length;
  }
  if (ev.error) return showError(ev.error);
  drawBars(ev.probabilities, classes.map((c) => c.name));
  $("bars").dataset.label = ev.label;
}

function drawBars(probabilities, names) {
  $("bars").replaceChildren(...probabilities.map((p, i) => {
    const fill = make("span", { className: "pg-bar-fill" });
    fill.style.width = `${Math.round(p * 100)}%`; // CSSOM: allowed by the CSP
    return make("div", { className: "pg-bar" }, make("span", { className: "pg-bar-name", textContent: names[i] ?? i }),
      make("span", { className: "pg-bar-track" }, fill), make("span", { className: "pg-bar-value", textContent: formatPercent(p) }));
  }));
}

async function liveLoop() {
  while (streaming) {
    if (sentAt.size < 2) send(await grab());
    await new Promise((r) => setTimeout(r, 150));
  }
}

$("camera-start").addEventListener("click", startCamera);
$("class-add").addEventListener("click", () => addClass(`class ${classes.length + 1}`));
$("teach-train")?.addEventListener("click", train);
$("try-file").addEventListener("change", (e) => { if (e.target.files[0]) send(e.target.files[0]); });
$("live-toggle").addEventListener("click", () => {
  if (!stream) return showError("Start the camera first, or try a picture.");
  streaming = !streaming;
  $("live-toggle").textContent = streaming ? "Stop" : "Classify the camera live";
  if (streaming) liveLoop();
});
$("teach-stop").addEventListener("click", stop);
$("teach-again")?.addEventListener("click", () => { $("teach-again").hidden = true; train(); });
// "run again" from a teach job brings its class names back; the pictures are captured again
const again = readJSON("teach-data").classes || [];
(again.length >= 2 ? again : ["class 1", "class 2"]).forEach(addClass);
