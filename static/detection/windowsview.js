// "Sliding windows vs one convolutional pass" (detection/windows.py): both ways' grid of
// objectness and best class side by side over the picture, with their measured cost.
import { $ } from "../webapp/dom.js";
import { classColour } from "./refilter.js";
import { gmac, secs, svg } from "./costview.js";

let shown = null;

function gridView(doc, side, pictureURL, classIds) {
  const [rows, cols] = doc.grid, size = doc.stride * cols;
  const root = svg("svg", { viewBox: `0 0 ${size} ${doc.stride * rows}`, class: "det-windows-svg", role: "img" });
  root.append(svg("rect", { x: 0, y: 0, width: size, height: doc.stride * rows, fill: "#808080" }));
  if (pictureURL) root.append(svg("image", { href: pictureURL, x: 0, y: 0, width: size, height: doc.stride * rows, preserveAspectRatio: "xMidYMid meet", opacity: 0.55 }));
  side.objectness.forEach((v, k) => {
    const r = Math.floor(k / cols), c = k % cols;
    const cell = svg("rect", { x: c * doc.stride, y: r * doc.stride, width: doc.stride, height: doc.stride,
                               fill: "#e0455b", "fill-opacity": Math.min(0.85, Math.sqrt(v)), stroke: "#fff", "stroke-opacity": 0.25,
                               class: "det-windows-cell" });
    cell.append(svg("title", {}, `row ${r}, column ${c}: objectness ${v.toFixed(2)}, best ${side.class[k]} ${side.score[k].toFixed(2)}`));
    root.append(cell);
    if (side.score[k] >= 0.2) {
      root.append(svg("text", { x: c * doc.stride + 2, y: r * doc.stride + 12, "font-size": 9, fill: classColour(classIds.get(side.class[k]) ?? 0),
                                stroke: "#000", "stroke-width": 0.25 }, side.class[k].slice(0, 6)));
    }
  });
  return root;
}

export function showWindows(doc, pictures, classNames) {
  if (!doc || shown === doc.url) return;
  shown = doc.url;
  $("det-windows").hidden = false;
  const pic = [...pictures.values()].find((p) => p.entry.index === doc.index);
  const ids = new Map(classNames.map((n, i) => [n, i]));
  $("det-windows-what").textContent = `On ${doc.picture}: each of the ${doc.grid[0]} × ${doc.grid[1]} cells of the ` +
    `coarsest grid (one every ${doc.stride} pixels of the ${doc.grid[1] * doc.stride}-pixel input) classified the slow way – ` +
    `a ${doc.window} × ${doc.window} window cropped around it and the network run on each of the ${doc.windows} windows ` +
    `(in batches of ${doc.sliding.batch}) – and the fast way, all cells from one run. Red: objectness; labels: best class ≥ 0.2.`;
  $("det-windows-slow").textContent = `${secs(doc.sliding.seconds)} · ${gmac(doc.sliding.macs)}`;
  $("det-windows-fast").textContent = `${secs(doc.conv.seconds)} · ${gmac(doc.conv.macs)}`;
  $("det-windows-sliding").replaceChildren(gridView(doc, doc.sliding, pic && pic.entry.url, ids));
  $("det-windows-conv").replaceChildren(gridView(doc, doc.conv, pic && pic.entry.url, ids));
  $("det-windows-verdict").textContent = `The convolutional pass was ${doc.speedup.toFixed(1)}× faster here and did ` +
    `${doc.mac_ratio.toFixed(1)}× fewer multiply-adds: neighbouring windows overlap, and one pass computes the shared part once. ` +
    `The two maps give the same best class in ${(100 * doc.same_best).toFixed(0)}% of cells; objectness differs by at most ` +
    `${doc.max_objectness_gap.toFixed(2)}, where a window cuts off context the whole-picture pass sees.`;
}
