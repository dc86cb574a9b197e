// On a run page: "Why this prediction?" posts a picture, and a click on a confusion-matrix
// cell asks for that cell's pictures; either opens the explain job the worker runs.
import { postJSON } from "../webapp/http.js";

const form = document.getElementById("explain-form");
const out = document.getElementById("explain-out");

async function ask(body) {
  out.textContent = "Sending…";
  try {
    window.location.assign((await postJSON(form.dataset.url, body)).url);
  } catch (e) {
    out.textContent = e.message;
  }
}

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.elements.picture.files.length) {
    out.textContent = "Choose a picture first.";
    return;
  }
  ask(new FormData(form));
});

const unitForm = document.getElementById("unit-form");
unitForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const unitOut = document.getElementById("unit-out");
  unitOut.textContent = "Sending…";
  try {
    window.location.assign((await postJSON(unitForm.dataset.url, new FormData(unitForm))).url);
  } catch (e) {
    unitOut.textContent = e.message;
  }
});

// The confusion table is redrawn by the live view: listen on its container.
document.getElementById("confusion")?.addEventListener("click", (event) => {
  const td = event.target.closest("table.pg-confusion td");
  if (!form || !td || form.closest("section")?.hidden) return;
  const body = new FormData();
  body.append("true", String(td.parentElement.rowIndex - 1));
  body.append("predicted", String(td.cellIndex - 1));
  ask(body);
});
