// "Why this prediction?" on a run page: post the picture, then open the explain job,
// whose page shows the Grad-CAM and saliency the worker computed.
import { postJSON } from "../webapp/http.js";

const form = document.getElementById("explain-form");
form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = document.getElementById("explain-out");
  if (!form.elements.picture.files.length) {
    out.textContent = "Choose a picture first.";
    return;
  }
  out.textContent = "Sending…";
  try {
    const answer = await postJSON(form.dataset.url, new FormData(form));
    window.location.assign(answer.url);
  } catch (e) {
    out.textContent = e.message;
  }
});
