// The video job page's arithmetic (detection/videojob.py stores what it reads): a frame's
// candidates from the compact candidates.json, which frame a playing clip is on, and the
// count of each class over time from the re-filtered boxes. Pure: the Node tests import it.

/** One frame of candidates.json (a flat list: class_id, score, x1, y1, x2, y2, ...) as
 *  the candidates the picture page re-filters: {class, class_id, score, box}. */
export function frameCandidates(flat, classNames) {
  const out = [];
  for (let i = 0; i + 5 < flat.length; i += 6) {
    const id = flat[i];
    out.push({ class: classNames[id] ?? `class ${id}`, class_id: id, score: flat[i + 1],
               box: flat.slice(i + 2, i + 6) });
  }
  return out;
}

/** The frame (0 … count-1) shown at `seconds` of a clip written at `fps` frames a second
 *  from 0 (the plain clip: frame i at i / fps, in milliseconds, so a little slack). */
export function frameAt(seconds, fps, count) {
  if (!(count > 0)) return 0;
  const i = Math.floor(seconds * fps + 0.2);
  return Math.max(0, Math.min(count - 1, Number.isFinite(i) ? i : 0));
}

/** {class: [[time, boxes on that frame], ...]} for each class on any frame, the classes
 *  with the most boxes at once first (as the job's own result.counts). */
export function countsOverTime(shownPerFrame, times) {
  const counts = new Map();
  shownPerFrame.forEach((shown, f) => {
    for (const d of shown) {
      if (!counts.has(d.class)) counts.set(d.class, new Array(shownPerFrame.length).fill(0));
      counts.get(d.class)[f] += 1;
    }
  });
  const rows = [...counts].map(([name, values]) => ({ name, values, most: Math.max(...values) }))
    .sort((a, b) => b.most - a.most || a.name.localeCompare(b.name));
  return Object.fromEntries(rows.map(({ name, values }) => [name, values.map((c, f) => [times[f], c])]));
}
