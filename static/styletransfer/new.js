// New style-transfer job: thumbnails of chosen pictures before upload, blend weights
// for uploaded styles, presets that fill the knobs, and a busy button while uploading.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const form = $("st-form");
  const maxBytes = Number(form.dataset.maxBytes);
  const maxBlend = form.dataset.maxBlend;
  const presets = JSON.parse($("st-presets").textContent);

  function fmtBytes(n) {
    return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
  }

  // One thumbnail card for a chosen file; `extra` (optional) is appended below the name.
  function thumb(file, extra) {
    const item = document.createElement("div");
    item.className = "st-item on";
    const img = document.createElement("img");
    img.alt = file.name;
    const name = document.createElement("span");
    name.className = "st-name";
    name.textContent = file.name;
    const info = document.createElement("span");
    info.className = "hint";
    info.textContent = fmtBytes(file.size);
    if (file.size > maxBytes) {
      info.className = "field-error";
      info.textContent = `${fmtBytes(file.size)} – larger than the ${fmtBytes(maxBytes)} limit`;
    }
    if (file.type.startsWith("image/")) {
      img.src = URL.createObjectURL(file);
      img.onload = () => {
        if (file.size <= maxBytes) info.textContent = `${img.naturalWidth}×${img.naturalHeight} · ${fmtBytes(file.size)}`;
        URL.revokeObjectURL(img.src);
      };
      img.onerror = () => { img.classList.add("broken"); info.textContent = "no preview (the server will check it)"; };
    } else {
      img.classList.add("broken");
    }
    item.append(img, name, info);
    if (extra) item.append(extra);
    return item;
  }

  function weightInput(name) {
    const label = document.createElement("label");
    label.className = "st-weight";
    label.append("weight ");
    const input = document.createElement("input");
    Object.assign(input, { type: "number", name, value: "1", min: "0", max: maxBlend, step: "any" });
    label.append(input);
    return label;
  }

  const content = $("id_content");
  content.addEventListener("change", () => {
    const box = $("st-content-preview");
    box.replaceChildren(...[...content.files].map((f) => thumb(f)));
    const reuse = $("id_reuse_content");
    if (reuse && content.files.length) reuse.checked = false;
  });

  const styles = $("id_styles");
  styles.addEventListener("change", () => {
    $("st-style-previews").replaceChildren(...[...styles.files].map((f) => thumb(f, weightInput("upload_blend"))));
    countStyles();
  });

  function countStyles() {
    const n = styles.files.length + form.querySelectorAll("input[name=gallery]:checked, input[name=reuse_style]:checked").length;
    $("st-style-count").textContent = n ? `${n} chosen` : "none chosen yet";
  }

  form.querySelectorAll("input[name=gallery], input[name=reuse_style]").forEach((box) => {
    const item = box.closest(".st-item");
    const sync = () => {
      item.classList.toggle("on", box.checked);
      item.querySelector(".st-weight input").disabled = !box.checked;
      countStyles();
    };
    box.addEventListener("change", sync);
    sync();
  });

  // Presets fill the size and step knobs; the total is shown as a hint.
  const preset = $("id_preset");
  const knob = (name) => $("id_" + name);
  function showTotal() {
    const size = Number(knob("size").value), steps = Number(knob("steps").value);
    const levels = Number(knob("levels").value), coarse = Number(knob("coarse_steps").value);
    let n = 0;
    for (let k = levels - 1; k >= 1; k--) if (Math.floor(size / 2 ** k) >= 64) n++;
    const total = steps + coarse * n;
    $("st-total").textContent = Number.isFinite(total)
      ? `${total} optimiser steps in all (${n ? `${n} smaller level${n > 1 ? "s" : ""}, then ` : ""}${size} px).`
      : "";
  }
  preset.addEventListener("change", () => {
    const p = presets[preset.value];
    for (const name of ["size", "steps", "levels", "coarse_steps"]) knob(name).value = p[name];
    showTotal();
  });
  for (const name of ["size", "steps", "levels", "coarse_steps"]) knob(name).addEventListener("input", showTotal);
  showTotal();
  countStyles();

  form.addEventListener("submit", () => {
    const button = $("st-submit");
    button.disabled = true;
    button.textContent = "Uploading…";
  });
  // Coming back with the browser's back button must not leave the button disabled.
  window.addEventListener("pageshow", () => { $("st-submit").disabled = false; $("st-submit").textContent = "Paint it"; });
})();
