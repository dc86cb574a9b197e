// A training run's live view: curves, gradient norms, filters, activation maps, confusion
// matrix and sample predictions, drawn from the snapshot and then from live events.
// Drawing is batched into animation frames so a burst of events never stalls the page.
// Used by the run's job page (run.js, live) and by its read-only shared page (shared.js).
import { $ } from "../webapp/dom.js";
import { formatCount, formatNumber, formatPercent } from "../webapp/format.js";
import { LinePlot } from "../webapp/plot.js";
import { runningCurve, stepsPerEpoch, withEpochEnds } from "./curves.js";
import { drawTask } from "./taskview.js";

/** Draw the run `initial`; `control(body)` sends live controls (the owner's page only).
 *  Returns {fromSnapshot(job), onEvent(event)} to keep it current. */
export function runView(initial, { control } = {}) {
  let job = initial;
  let m = {}; // the run's metrics: curve, epochs, gradients, filters, activations, ...
  const dirty = new Set();

  const lossPlot = new LinePlot($("plot-loss"), { xLabel: "epoch", yLabel: "loss", yMin: 0 });
  const accPlot = new LinePlot($("plot-acc"), { xLabel: "epoch", yLabel: "accuracy", yMin: 0, yMax: 1 });
  const gradPlot = new LinePlot($("plot-grad"), { xLabel: "epoch", yLabel: "‖grad‖", logY: true });

  const spe = () => stepsPerEpoch(m.train_samples, (job.params || {}).batch_size);

  // ---- state from snapshots and events ---------------------------------------------
  function fromSnapshot(j) {
    job = j;
    const next = { ...(j.metrics || {}) };
    // the row's step history may lag the live points this page already drew: keep those
    for (const key of ["curve"]) {
      const saved = next[key] || [], local = m[key] || [];
      const last = saved.length ? saved[saved.length - 1][0] : -1;
      next[key] = saved.concat(local.filter((p) => p[0] > last));
    }
    const sg = (next.gradients || { points: [] }), lg = (m.gradients || { points: [] });
    const lastG = sg.points.length ? sg.points[sg.points.length - 1][0] : -1;
    next.gradients = { names: sg.names || lg.names || [], points: sg.points.concat(lg.points.filter((p) => p[0] > lastG)) };
    if (!next.epochs?.length && j.result?.history) next.epochs = j.result.history;
    const prev = m;
    m = next;
    // redraw only what changed (unchanged keys keep their identity between snapshots)
    for (const [key, parts] of Object.entries(PARTS)) {
      if (first || next[key] !== prev[key] || (key === "curve" && next.curve.length !== (prev.curve || []).length)) parts.forEach((p) => dirty.add(p));
    }
    ["stats", "controls"].forEach((k) => dirty.add(k));
    first = false;
    schedule();
  }
  const PARTS = {
    views: ["scrub"],
    curve: ["curves"], epochs: ["curves"], gradients: ["grads"], filters: ["filters"],
    activations: ["acts"], confusion: ["confusion"], samples: ["samples"], last: ["stats"],
    task: ["task"],
  };
  let first = true;
  // the step scrubber: null follows the run live, else the stored view of one epoch
  let scrubbed = null, scrubFollow = true;
  async function scrubTo(index) {
    const views = m.views || [];
    scrubFollow = index >= views.length - 1;
    if (scrubFollow) {
      scrubbed = null;
    } else {
      const view = views[index];
      try {
        const resp = await fetch(view.url, { credentials: "same-origin" });
        scrubbed = resp.ok ? await resp.json() : { epoch: view.epoch, step: view.step };
      } catch { scrubbed = { epoch: view.epoch, step: view.step }; }
      const at = (m.confusion || []).findIndex((c) => c.epoch === view.epoch);
      if (at >= 0) { $("conf-epoch").value = at; confFollow = false; }
    }
    if (scrubFollow) confFollow = true;
    ["filters", "acts", "confusion", "curves", "grads", "scrub"].forEach((p) => dirty.add(p));
    schedule();
  }
  $("scrub")?.addEventListener("input", (e) => scrubTo(+e.target.value));

  function onEvent(ev) {
    switch (ev.type) {
      case "metrics":
        if ((m.curve || []).at(-1)?.[0] >= ev.step) break;
        m.curve = (m.curve || []).concat([[ev.step, ev.train_loss, ev.train_accuracy]]);
        m.last = { epoch: ev.epoch, step: ev.step, train_loss: ev.train_loss, train_accuracy: ev.train_accuracy, lr: ev.lr, samples_per_s: ev.samples_per_s };
        dirty.add("curves"); dirty.add("stats");
        break;
      case "gradients":
        if ((m.gradients?.points || []).at(-1)?.[0] >= ev.step) break;
        m.gradients = { names: ev.names, points: ((m.gradients || {}).points || []).concat([[ev.step, ev.norms]]) };
        dirty.add("grads");
        break;
      case "epoch":
        m.epochs = (m.epochs || []).filter((e) => e.epoch !== ev.epoch).concat([ev]);
        if (ev.metrics && ev.metrics.views) { m.views = ev.metrics.views; dirty.add("scrub"); }
        dirty.add("curves"); dirty.add("stats");
        break;
      case "filters": m.filters = ev; if (!scrubbed) dirty.add("filters"); break;
      case "activations": m.activations = ev; if (!scrubbed) dirty.add("acts"); break;
      case "samples": m.samples = ev; dirty.add("samples"); break;
      case "task": m.task = ev; dirty.add("task"); break;
      case "confusion":
        m.confusion = (m.confusion || []).filter((c) => c.epoch !== ev.epoch).concat([ev]);
        confFollow = true;
        dirty.add("confusion");
        break;
      case "status":
        if (ev.state) m.state = ev.state;
        dirty.add("stats"); dirty.add("controls");
        break;
      default:
        return;
    }
    schedule();
  }

  let frame = null, netDrawn = false;
  function schedule() { if (!frame) frame = requestAnimationFrame(draw); }
  function draw() {
    frame = null;
    const todo = [...dirty];
    dirty.clear();
    for (const part of todo) DRAW[part]?.();
    if (!netDrawn) { DRAW.net(); netDrawn = true; }
  }

  // ---- drawing -----------------------------------------------------------------------
  const pct = formatPercent, num = formatNumber;

  const DRAW = {
    stats() {
      const last = m.last || {}, ep = (m.epochs || []).at(-1) || {};
      $("st-state").textContent = job.status === "running" ? (m.state || "starting") : job.status;
      $("st-epoch").textContent = `${Math.max(last.epoch ?? 0, ep.epoch ?? 0)} / ${(job.params || {}).epochs ?? "?"}`;
      $("st-loss").textContent = num(last.train_loss ?? ep.train_loss);
      $("st-val").textContent = pct(ep.val_accuracy);
      $("st-lr").textContent = num(last.lr ?? (job.params || {}).lr, 3);
      $("st-speed").textContent = last.samples_per_s ? formatCount(Math.round(last.samples_per_s)) : "–";
      $("st-params").textContent = m.total_params ? formatCount(m.total_params) : "–";
      const p = job.params || {};
      const setup = [p.dataset && `dataset ${p.dataset}`, m.input_shape && `pictures ${m.input_shape.join("×")}`,
        m.train_samples && `${m.train_samples} train / ${m.val_samples} val`, m.classes && (p.task && p.task !== "classify" ? `${m.classes.length} ${p.task === "landmarks" ? "points" : "classes"}` : `${m.classes.length} classes (chance ${pct(1 / m.classes.length)})`),
        p.optimizer && `${p.optimizer}, batch ${p.batch_size}, init ${p.init}`, m.device && `on ${m.device}`].filter(Boolean);
      $("st-setup").textContent = setup.join(" · ");
    },
    scrub() {
      const views = m.views || [], box = $("scrub-box");
      if (!box) return;
      box.hidden = views.length < 2;
      const slider = $("scrub");
      slider.max = Math.max(0, views.length - 1);
      if (scrubFollow) slider.value = slider.max;
      const view = views[+slider.value];
      $("scrub-label").textContent = !view ? "" : scrubFollow ? `epoch ${view.epoch} (live)` : `epoch ${view.epoch}, step ${view.step}`;
    },
    curves() {
      const marker = scrubbed ? scrubbed.epoch : null;
      lossPlot.opts.marker = accPlot.opts.marker = gradPlot.opts.marker = marker;
      const eps = m.epochs || [], curve = runningCurve(withEpochEnds(m.curve || [], eps, spe()), spe());
      lossPlot.update([
        { name: "train (running mean)", points: curve.map((p) => [p[0], p[1]]) },
        { name: "train (epoch)", points: eps.map((e) => [e.epoch, e.train_loss]), dashed: true },
        { name: "validation", points: eps.map((e) => [e.epoch, e.val_loss]) },
      ]);
      accPlot.update([
        { name: "train (running mean)", points: curve.map((p) => [p[0], p[2]]) },
        { name: "train (epoch)", points: eps.map((e) => [e.epoch, e.train_accuracy]), dashed: true },
        { name: "validation", points: eps.map((e) => [e.epoch, e.val_accuracy]) },
      ]);
    },
    grads() {
      gradPlot.opts.marker = scrubbed ? scrubbed.epoch : null;
      const g = m.gradients || { names: [], points: [] }, steps = spe();
      const series = [];
      g.names.forEach((name, i) => {
        // p[0] is the batch's index: its gradient is that of step p[0] + 1, so an epoch's
        // last batch sits on the epoch's tick
        const pts = g.points.filter((p) => p[1][i] != null && p[1][i] > 0).map((p) => [(p[0] + 1) / steps, p[1][i]]);
        if (pts.length) series.push({ name, points: pts });
      });
      gradPlot.update(series);
    },
    filters() {
      const f = scrubbed ? scrubbed.filters : m.filters, img = $("filters-img");
      img.hidden = !f; $("filters-empty").hidden = !!f;
      if (!f) return;
      img.src = f.image;
      $("filters-shape").textContent = `${f.shape[0]} filters of ${f.shape[2]}×${f.shape[3]} over ${f.shape[1]} channel${f.shape[1] > 1 ? "s" : ""}, step ${f.step}`;
    },
    acts() {
      const a = scrubbed ? scrubbed.activations : m.activations;
      if (!a) return;
      $("acts-step").textContent = `step ${a.step}`;
      const figs = [figure(a.input, "input picture", "input")];
      if (!a.layers.length) figs.push(textNode("This net has no conv layers to show."));
      for (const l of a.layers) figs.push(figure(l.image, `${l.index} ${l.type} · ${l.shape.join("×")} (first ${l.shown})`));
      $("acts").replaceChildren(...figs);
    },
    confusion() {
      const all = m.confusion || [], slider = $("conf-epoch");
      if (!all.length) return;
      slider.min = 0; slider.max = all.length - 1;
      if (confFollow) slider.value = all.length - 1;
      const c = all[Math.min(+slider.value, all.length - 1)];
      $("conf-label").textContent = `epoch ${c.epoch}` + (all.length > 1 ? ` (of ${all.at(-1).epoch})` : "");
      const table = document.createElement("table");
      table.className = "pg-confusion";
      const head = table.insertRow();
      head.append(document.createElement("th"));
      for (const name of c.classes) { const th = document.createElement("th"); th.textContent = name; th.title = `predicted ${name}`; head.append(th); }
      c.matrix.forEach((row, i) => {
        const tr = table.insertRow();
        const th = document.createElement("th"); th.textContent = c.classes[i]; th.title = `true ${c.classes[i]}`; tr.append(th);
        const total = row.reduce((s, v) => s + v, 0) || 1;
        row.forEach((v, j) => {
          const td = tr.insertCell();
          const share = v / total;
          td.textContent = v;
          td.title = `true ${c.classes[i]}, predicted ${c.classes[j]}: ${v} (${pct(share)})`;
          // dark text on every cell: the strongest red stops where the text keeps a 4.5:1 contrast
          td.style.background = i === j ? `rgba(43,182,115,${0.1 + 0.9 * share})` : `rgba(224,69,91,${share ? 0.12 + 0.63 * share : 0.03})`;
        });
      });
      $("confusion").replaceChildren(table);
    },
    samples() {
      const s = m.samples, classes = m.classes || [];
      if (!s) return;
      $("samples-epoch").textContent = `validation pictures after epoch ${s.epoch}`;
      $("samples").replaceChildren(...s.items.map((it) => {
        const name = (k) => classes[k] ?? k;
        const f = figure(it.image, `true ${name(it.label)} → ${name(it.predicted)} (${pct(it.confidence)})`);
        if (it.label !== it.predicted) f.classList.add("wrong");
        return f;
      }));
    },
    task() {
      // tasks beyond classification: their own panel instead of confusion and samples
      const name = m.task?.task || (job.params || {}).task || "classify";
      $("task-panel").hidden = name === "classify";
      $("pg-classify-panels").hidden = name !== "classify";
      if (name !== "classify") {
        $("acc-hint").textContent = ACCURACY_MEANS[name];
        $("st-val-label").textContent = `val ${ACCURACY_SHORT[name]}`;
        $("loss-hint").textContent = `${LOSS_NAMES[name]}; should fall. Train above val by a growing gap = overfitting.`;
      }
      if (m.task) {
        $("task-epoch").textContent = `after epoch ${m.task.epoch}`;
        drawTask($("task-view"), m.task);
      }
    },
    net() {
      const spec = (job.params || {}).spec || [];
      $("net-layers").replaceChildren(...spec.map((l) => {
        const li = document.createElement("li");
        li.textContent = l.type + " " + Object.entries(l).filter(([k]) => k !== "type").map(([k, v]) => `${k}=${v}`).join(" ");
        return li;
      }));
    },
    controls() {
      if (!$("ctl-pause")) return;
      // a paused run is saved and holds no worker (status "paused"); Resume queues it again
      const running = ["running", "paused"].includes(job.status) && !job.cancel_requested;
      const stopping = !!(job.control || {}).stop;
      const paused = job.status === "paused" || !!(job.control || {}).paused;
      $("ctl-pause").disabled = $("ctl-stop").disabled = $("ctl-lr-set").disabled = !running || stopping;
      $("ctl-pause").textContent = paused ? "Resume" : "Pause";
      if (document.activeElement !== $("ctl-lr") && !$("ctl-lr").value) $("ctl-lr").value = (job.control || {}).lr ?? (job.params || {}).lr ?? "";
      $("pg-live-controls").hidden = !["running", "queued", "paused"].includes(job.status);
      // the note follows the run's state; a message of an action (a new learning rate)
      // stays until the state next changes
      const [key, text] = controlNote(stopping && running);
      if (key !== noteKey) { noteKey = key; if (text) $("ctl-note").textContent = text; }
      const summary = (job.result || {}).summary || {};
      const stoppedBox = $("pg-stopped");
      if (stoppedBox) {
        stoppedBox.hidden = !(job.status === "succeeded" && summary.stopped);
        if (!stoppedBox.hidden) {
          const of = (job.params || {}).epochs;
          stoppedBox.textContent = `Stopped ${summary.epochs ? `after epoch ${summary.epochs} of ${of}` : `during its first epoch (of ${of})`}: the model as it was then is kept below.`;
        }
      }
    },
  };
  const NOTE_AT_START = $("ctl-note")?.textContent || "";
  let noteKey = null;
  function controlNote(stopping) {
    const saved = job.result || {};
    if (stopping) return ["stopping", "Stopping after this batch; the model is kept."];
    if (job.status === "paused") return ["paused", "Paused: the run is saved (checkpoint.pt below) and holds no worker. Resume queues it to go on exactly where it stopped."];
    if (job.status === "queued" && saved.paused) return ["resuming", `Resuming: queued to go on from its checkpoint (epoch ${saved.epoch}, step ${saved.step}).`];
    if (job.status === "running" && saved.paused) return ["resumed", `Resumed from its checkpoint (epoch ${saved.epoch}, step ${saved.step}). ${NOTE_AT_START}`];
    if (job.status === "running") return ["running", NOTE_AT_START];
    return [job.status, null];
  }
  const ACCURACY_MEANS = {
    localise: "share of pictures with the right class and a box of IoU ≥ 0.5",
    landmarks: "share of points found within 2 pixels",
    segment: "share of pixels given the right class",
    verify: "train: pairs or triplets ordered right in a batch; validation: pair accuracy on held-out classes",
  };
  const LOSS_NAMES = {
    localise: "cross-entropy of the class + 5 × the box's squared error",
    landmarks: "squared error of the points (fractions of the picture side)",
    segment: "cross-entropy averaged over pixels",
    verify: "triplet loss (or the pair classifier's cross-entropy); validation: on held-out classes",
  };
  const ACCURACY_SHORT = { localise: "hits", landmarks: "points ≤ 2 px", segment: "pixel accuracy", verify: "pair accuracy" };
  dirty.add("task");
  let confFollow = true;
  $("conf-epoch").addEventListener("input", () => {
    confFollow = +$("conf-epoch").value === (m.confusion || []).length - 1;
    DRAW.confusion();
  });

  function figure(src, caption, cls) {
    const f = document.createElement("figure");
    if (cls) f.className = cls;
    const img = document.createElement("img");
    img.className = "pix"; img.src = src; img.alt = caption;
    const cap = document.createElement("figcaption");
    cap.textContent = caption;
    f.append(img, cap);
    return f;
  }
  function textNode(text) { const p = document.createElement("p"); p.className = "hint"; p.textContent = text; return p; }

  if (control && $("ctl-pause")) {
    $("ctl-pause").addEventListener("click", () => control({ paused: !(job.control || {}).paused }));
    // a paused run resumes to stop: it trains one more batch, then keeps the model
    $("ctl-stop").addEventListener("click", () => control({ stop: true, paused: false }));
    $("ctl-lr-set").addEventListener("click", () => {
      const lr = parseFloat($("ctl-lr").value);
      if (!(lr > 0 && lr <= 10)) { $("ctl-note").textContent = "The learning rate must be above 0 and at most 10."; return; }
      $("ctl-note").textContent = `Learning rate set to ${lr}; the next batches use it.`;
      control({ lr });
    });
  }

  fromSnapshot(initial);
  return { fromSnapshot, onEvent };
}
