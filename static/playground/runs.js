// "My training runs": tick two or more runs to compare them.
import { $ } from "../webapp/dom.js";

const form = $("compare-form");
if (form) {
  const ticked = () => [...form.querySelectorAll("tbody input[type=checkbox]:checked")].map((b) => b.value);
  form.addEventListener("change", () => { $("compare-go").disabled = ticked().length < 2; });
  form.addEventListener("submit", () => { $("compare-runs").value = ticked().join(","); });
}
