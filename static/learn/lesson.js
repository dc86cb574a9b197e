// A lesson page: mounts its widget, and while its experiment's runs train, refreshes the
// "what your run showed" panel from the server (which reads the runs' own numbers).

import { $, readJSON } from "../webapp/dom.js";
import { getJSON } from "../webapp/http.js";
import { WIDGETS } from "./widgets.js";

const page = readJSON("lesson-page");
const root = $("widget");
if (root && WIDGETS[page.widget]) {
  $("widget-loading").remove();
  WIDGETS[page.widget](root, page.options || {});
}

const POLL_MS = 2000;

async function refresh() {
  try {
    const answer = await getJSON(page.observed_url);
    $("observed-body").innerHTML = answer.html; // our own template's HTML, no script in it
    if (answer.active) setTimeout(refresh, POLL_MS);
  } catch {
    setTimeout(refresh, POLL_MS * 4); // a lost answer: try again later
  }
}

if (page.observed_url && page.active) setTimeout(refresh, POLL_MS);
