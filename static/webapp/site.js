// What the server tells every page about the site (base.html's `studio-site`, from
// webapp.context_processors.studio_site): its URLs and which job states are active.
import { readJSON } from "./dom.js";

const site = readJSON("studio-site") || { urls: {}, active_states: [] };

/** The site URL `name` with its `{placeholders}` filled: siteURL("job_cancel", {id}). */
export function siteURL(name, values = {}) {
  const template = site.urls[name];
  if (template === undefined) throw new Error(`no URL named ${name}`);
  return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key]));
}

/** True while a job in this state still changes (queued, running, paused...). */
export const isActive = (status) => site.active_states.includes(status);
