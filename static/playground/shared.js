// A shared training run: the live view, read-only, drawn once from the stored snapshot.
import { readJSON } from "../webapp/dom.js";
import { runView } from "./runview.js";

runView(readJSON("job-snapshot"));
