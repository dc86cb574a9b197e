// The new-detection form: sliders mirror the number fields, chosen files are listed,
// and the class list can be narrowed by typing.
import { $ } from "../webapp/dom.js";

for (const range of document.querySelectorAll("input[type=range][data-mirror]")) {
  const box = $(range.dataset.mirror);
  range.addEventListener("input", () => { box.value = range.value; });
  box.addEventListener("input", () => { if (box.value !== "") range.value = box.value; });
}

const files = $("id_pictures");
const chosen = $("det-chosen");
const help = chosen.textContent;
files.addEventListener("change", () => {
  const list = Array.from(files.files);
  if (!list.length) { chosen.textContent = help; return; }
  const mb = list.reduce((s, f) => s + f.size, 0) / 2 ** 20;
  const names = list.slice(0, 4).map((f) => f.name).join(", ");
  chosen.textContent = `${list.length} file${list.length > 1 ? "s" : ""} (${mb.toFixed(1)} MB): ${names}` +
    (list.length > 4 ? ` and ${list.length - 4} more` : "");
});

const search = $("det-class-search");
search?.addEventListener("input", () => {
  const q = search.value.trim().toLowerCase();
  for (const label of document.querySelectorAll("#det-class-grid label")) {
    label.hidden = q !== "" && !label.textContent.toLowerCase().includes(q);
  }
});

// Uploading can take a while: say so, and undo it when the page comes back from history.
const submit = $("det-submit");
const label = submit.textContent;
$("det-form").addEventListener("submit", () => {
  submit.disabled = true;
  submit.textContent = "Uploading…";
});
window.addEventListener("pageshow", () => { submit.disabled = false; submit.textContent = label; });
