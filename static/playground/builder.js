// The net builder: edit layers with forms, see the server's summary table as you type,
// load presets, share the whole builder state as a link (#net=...).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const form = $("train-form");
  const HELP = JSON.parse($("layer-help").textContent);
  const ERROR_INDEX = JSON.parse($("spec-error-index").textContent);

  // Parameters each layer type has, with the values a new layer starts from.
  const PARAMS = {
    conv2d: { filters: 16, kernel: 3, stride: 1, padding: 1 },
    maxpool: { kernel: 2, stride: 2, padding: 0 },
    avgpool: { kernel: 2, stride: 2, padding: 0 },
    relu: {}, sigmoid: {}, tanh: {}, batchnorm: {}, flatten: {}, globalavgpool: {},
    leakyrelu: { slope: 0.01 },
    dropout: { p: 0.5 },
    linear: { units: 64 },
    residual: { filters: 16, stride: 1 },
    inception: { c1: 16, c3_reduce: 16, c3: 24, c5_reduce: 8, c5: 8, pool_proj: 16 },
  };
  const PARAM_HINTS = {
    filters: "number of filters = output channels", kernel: "window side f", stride: "step s",
    padding: "zeros added on each side p", units: "outputs", slope: "slope for x < 0",
    p: "fraction dropped", c1: "1×1 branch", c3_reduce: "1×1 before the 3×3", c3: "3×3 branch",
    c5_reduce: "1×1 before the two 3×3", c5: "two stacked 3×3 (5×5 view)", pool_proj: "1×1 after pooling",
  };
  const FLOAT_PARAMS = new Set(["slope", "p"]);

  let spec = [];
  let errorIndex = null;

  // ---- state <-> page ------------------------------------------------------------
  function datasetInput() { return form.querySelector("input[name=dataset]:checked"); }

  function shapeRequest() {
    const ds = datasetInput();
    const body = { dataset: ds ? ds.value : "stripes" };
    if (body.dataset === "upload") {
      body.image_size = +form.image_size.value || 32;
      body.channels = +$("upload-channels").value;
    }
    return body;
  }

  function settings() {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || ["spec", "csrfmiddlewaretoken", "dataset_zip"].includes(el.name)) continue;
      if (el.type === "radio") { if (el.checked) out[el.name] = el.value; continue; }
      out[el.name] = el.type === "checkbox" ? el.checked : el.value;
    }
    return out;
  }

  function applySettings(s) {
    for (const [name, value] of Object.entries(s || {})) {
      const els = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
      for (const el of els) {
        if (el.type === "radio") el.checked = el.value === value && !el.disabled;
        else if (el.type === "checkbox") el.checked = !!value;
        else if (el.type !== "file") el.value = value;
      }
    }
  }

  function layerRow(layer, i) {
    const li = document.createElement("li");
    li.className = "pg-layer" + (i === errorIndex ? " bad" : "");
    li.dataset.index = i;
    const head = document.createElement("div");
    head.className = "pg-layer-head";
    const num = document.createElement("span");
    num.className = "pg-num";
    num.textContent = i;
    const type = document.createElement("select");
    type.className = "pg-type";
    type.setAttribute("aria-label", `layer ${i} type`);
    for (const t of Object.keys(PARAMS)) type.add(new Option(t, t, false, t === layer.type));
    type.addEventListener("change", () => { spec[i] = { type: type.value, ...PARAMS[type.value] }; changed(); });
    const tools = document.createElement("span");
    tools.className = "pg-tools";
    for (const [label, title, fn] of [
      ["↑", "move up", () => move(i, -1)], ["↓", "move down", () => move(i, 1)],
      ["+", "duplicate", () => { spec.splice(i + 1, 0, { ...spec[i] }); changed(); }],
      ["✕", "remove", () => { spec.splice(i, 1); changed(); }],
    ]) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "linklike"; b.textContent = label; b.title = title;
      b.setAttribute("aria-label", `${title} layer ${i}`);
      b.addEventListener("click", fn);
      tools.append(b);
    }
    head.append(num, type, tools);
    const params = document.createElement("div");
    params.className = "pg-params";
    for (const [name, def] of Object.entries(PARAMS[layer.type] || {})) {
      const lab = document.createElement("label");
      lab.title = PARAM_HINTS[name] || "";
      lab.append(document.createTextNode(name));
      const input = document.createElement("input");
      input.type = "number";
      input.step = FLOAT_PARAMS.has(name) ? "any" : "1";
      input.value = layer[name] ?? def;
      input.dataset.param = name;
      input.addEventListener("input", () => {
        const v = input.value.trim();
        spec[i][name] = v === "" ? null : FLOAT_PARAMS.has(name) ? parseFloat(v) : Number(v);
        changed(false);
      });
      lab.append(input);
      params.append(lab);
    }
    const help = document.createElement("div");
    help.className = "hint";
    help.textContent = HELP[layer.type] || "";
    li.append(head, params, help);
    return li;
  }

  function renderLayers() {
    const list = $("layers");
    list.replaceChildren(...spec.map(layerRow));
    if (!spec.length) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "No layers yet: load a preset or add a layer below.";
      list.append(li);
    }
  }

  function move(i, by) {
    const j = i + by;
    if (j < 0 || j >= spec.length) return;
    [spec[i], spec[j]] = [spec[j], spec[i]];
    changed();
  }

  // ---- the live summary ------------------------------------------------------------
  let timer = null, seq = 0;
  function changed(redraw = true) {
    $("id_spec").value = JSON.stringify(spec);
    if (redraw) renderLayers();
    clearTimeout(timer);
    timer = setTimeout(refreshSummary, 250);
  }

  const fmt = (n) => n == null ? "all" : Number(n).toLocaleString("en-US");
  function compact(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }

  async function refreshSummary() {
    const mine = ++seq;
    let answer;
    try {
      const resp = await fetch(form.dataset.summaryUrl || "/playground/summary/", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": Studio.csrfToken() },
        body: JSON.stringify({ spec, ...shapeRequest() }),
      });
      answer = await resp.json();
    } catch (e) {
      answer = { ok: false, error: "The server could not be reached to check the net.", index: null };
    }
    if (mine !== seq) return; // a newer edit is on its way
    showSummary(answer);
  }

  function showSummary(answer) {
    const body = $("summary").tBodies[0];
    const err = $("summary-error");
    const start = $("start-training");
    errorIndex = answer.ok ? null : answer.index;
    for (const li of $("layers").children) li.classList.toggle("bad", +li.dataset.index === errorIndex && errorIndex !== null);
    err.hidden = answer.ok;
    if (start) start.disabled = !answer.ok;
    $("start-note").textContent = answer.ok ? "" : "Fix the net first: nothing can be trained while it is invalid.";
    if (!answer.ok) {
      err.textContent = answer.index == null ? answer.error
        : `Layer ${answer.index} (${(spec[answer.index] || {}).type || "?"}): ${answer.reason || answer.error}`;
      for (const tr of body.rows) tr.classList.toggle("bad", +tr.dataset.index === answer.index);
      if (answer.index != null && !body.querySelector(`tr[data-index="${answer.index}"]`)) body.replaceChildren();
      return;
    }
    const s = answer.summary;
    $("summary-shape").textContent = `input ${s.input_shape.join("×")}`;
    body.replaceChildren(...s.rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.index = r.index;
      if (r.type === "classifier") tr.className = "head";
      const cells = [r.index, r.type, r.output_shape.join("×"), r.arithmetic, fmt(r.params),
        r.receptive_field == null ? "all" : `${r.receptive_field}×${r.receptive_field}`, compact(r.mult_adds)];
      for (const [k, c] of cells.entries()) {
        const td = document.createElement("td");
        td.textContent = c;
        if (k === 3) td.className = "pg-arith";
        tr.append(td);
      }
      return tr;
    }));
    $("total-params").textContent = fmt(s.total_params);
    $("total-macs").textContent = compact(s.total_mult_adds);
    $("total-act").textContent = (s.activation_floats * 4 / 1024).toFixed(0) + " KB";
  }

  // ---- presets, datasets, sharing --------------------------------------------------
  async function loadPreset(name, button) {
    const q = new URLSearchParams(shapeRequest());
    const resp = await fetch(`/playground/presets/${name}/?${q}`, { credentials: "same-origin" });
    const data = await resp.json();
    if (!resp.ok) { $("preset-note").textContent = data.error; return; }
    spec = data.spec;
    $("id_preset").value = name;
    $("preset-note").textContent = `Loaded ${button ? button.textContent : name}: ${spec.length} layers, sized for ${datasetInput().value}.`;
    changed();
  }

  document.querySelectorAll("#presets [data-preset]").forEach((b) =>
    b.addEventListener("click", () => loadPreset(b.dataset.preset, b)));

  $("add-type").addEventListener("change", () => { $("add-help").textContent = HELP[$("add-type").value] || ""; });
  $("add-layer").addEventListener("click", () => {
    const t = $("add-type").value;
    spec.push({ type: t, ...PARAMS[t] });
    $("id_preset").value = "";
    changed();
  });
  $("layers").addEventListener("change", () => { $("id_preset").value = ""; });

  function datasetChanged() {
    const ds = datasetInput();
    $("upload-fields").hidden = !ds || ds.value !== "upload";
    changed(false);
  }
  form.querySelectorAll("input[name=dataset]").forEach((r) => r.addEventListener("change", datasetChanged));
  form.image_size.addEventListener("input", () => changed(false));
  $("upload-channels").addEventListener("change", () => changed(false));

  function toBase64Url(text) {
    const bytes = new TextEncoder().encode(text);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromBase64Url(text) {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }

  $("share-spec").addEventListener("click", async () => {
    const url = `${location.origin}${location.pathname}#net=${toBase64Url(JSON.stringify({ spec, settings: settings() }))}`;
    history.replaceState(null, "", url);
    const note = $("share-note");
    note.hidden = false;
    try {
      await navigator.clipboard.writeText(url);
      note.textContent = "Link copied: opening it restores this net and these settings.";
    } catch (e) {
      note.textContent = "The address bar now holds a link that restores this net and these settings.";
    }
  });

  form.addEventListener("submit", (ev) => {
    if (errorIndex !== null || !spec.length) { ev.preventDefault(); $("start-note").textContent = "Fix the net first."; return; }
    $("id_spec").value = JSON.stringify(spec);
    const b = $("start-training");
    if (b) { b.disabled = true; b.textContent = "Starting…"; }
  });

  // ---- start: a shared link, the form's own spec (after an error / run again), or LeNet
  function start() {
    const m = location.hash.match(/^#net=([\w-]+)/);
    if (m) {
      try {
        const state = JSON.parse(fromBase64Url(m[1]));
        if (Array.isArray(state.spec)) spec = state.spec;
        applySettings(state.settings);
        $("preset-note").textContent = "Restored from a shared link.";
      } catch (e) {
        $("preset-note").textContent = "The shared link is damaged; starting from LeNet-5.";
      }
    } else if ($("id_spec").value) {
      try { spec = JSON.parse($("id_spec").value); } catch (e) { spec = []; }
      if (!Array.isArray(spec)) spec = [];
    }
    if (!datasetInput()) form.querySelector("input[name=dataset]:not([disabled])").checked = true;
    $("upload-fields").hidden = datasetInput().value !== "upload";
    $("add-help").textContent = HELP[$("add-type").value] || "";
    errorIndex = ERROR_INDEX;
    if (!spec.length && !$("id_spec").value) { loadPreset("lenet5"); return; }
    changed();
  }
  start();
})();
