// Boxes drawn on a canvas like the server's PNGs (detection.annotate): the picture page's
// "Download PNG as shown" and the video page's overlay draw with this one function.
import { classColour } from "./refilter.js";

/** Draw `shown` (boxes in picture pixels of a W×H picture) on the 2D context `g`, whose
 *  transform maps picture pixels to the canvas. Best boxes end on top. */
export function paintBoxes(g, shown, W, H) {
  const line = Math.max(2, Math.round(Math.min(W, H) / 300));
  const size = Math.max(12, Math.round(Math.min(W, H) / 40));
  g.font = `${size}px sans-serif`;
  g.textBaseline = "top";
  for (const d of [...shown].reverse()) {
    const [x1, y1, x2, y2] = d.box;
    const colour = classColour(d.class_id);
    g.strokeStyle = colour;
    g.lineWidth = line;
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = `${d.class} ${d.score.toFixed(2)}`;
    const w = g.measureText(label).width + 2 * line, h = size + 2 * line;
    const tx = Math.max(0, Math.min(x1, W - w)), ty = y1 >= h ? y1 - h : y1;
    g.fillStyle = colour;
    g.fillRect(tx, ty, w, h);
    g.fillStyle = "#000";
    g.fillText(label, tx + line, ty + line);
  }
}
