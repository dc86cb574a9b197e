// "Region proposals (two stages) vs one pass" (detection/proposals.py): the regions
// proposed from a segmentation and what classifying each one found, beside YOLO's single
// pass on the same picture, with each way's network passes, multiply-adds and time.
import { $ } from "../webapp/dom.js";
import { classColour } from "./refilter.js";
import { gmac, secs, svg } from "./costview.js";

let shown = null;

function boxesView(doc, pictureURL, detections, classIds, proposals = []) {
  const root = svg("svg", { viewBox: `0 0 ${doc.width} ${doc.height}`, class: "det-windows-svg", role: "img" });
  if (pictureURL) root.append(svg("image", { href: pictureURL, x: 0, y: 0, width: doc.width, height: doc.height }));
  const thin = doc.width / 400;  // one screen pixel or so at the panel's width
  for (const [x1, y1, x2, y2] of proposals) {
    root.append(svg("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, fill: "none", stroke: "#fff",
                              "stroke-opacity": 0.45, "stroke-width": thin, class: "det-proposal" }));
  }
  for (const d of detections) {
    const [x1, y1, x2, y2] = d.box, colour = classColour(classIds.get(d.class) ?? 0);
    const rect = svg("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, fill: "none", stroke: colour,
                               "stroke-width": 3 * thin, class: "det-proposal-hit" });
    rect.append(svg("title", {}, `${d.class} ${d.score.toFixed(2)}`));
    root.append(rect, svg("text", { x: x1 + 2 * thin, y: y1 + 12 * thin, "font-size": 11 * thin, fill: colour,
                                    stroke: "#000", "stroke-width": 0.3 * thin }, `${d.class} ${d.score.toFixed(2)}`));
  }
  return root;
}

export function showProposals(doc, pictures, classNames) {
  if (!doc || shown === doc.url) return;
  shown = doc.url;
  $("det-proposals").hidden = false;
  const pic = [...pictures.values()].find((p) => p.entry.index === doc.index);
  const url = pic && pic.entry.url;
  const ids = new Map(classNames.map((n, i) => [n, i]));
  const two = doc.two_stage, one = doc.one_pass;
  $("det-proposals-what").textContent = `On ${doc.picture}: stage one cut the picture into regions of like colour ` +
    `(a graph segmentation) and merged the most alike neighbours again and again; every region on the way is a proposal ` +
    `(white: the ${doc.proposals.length} kept, found in ${secs(two.propose_seconds)}). Stage two cropped each proposal, ` +
    `warped it to ${doc.crop} × ${doc.crop} and ran the network on it alone: its class is the best score in the crop. ` +
    `Both ways keep scores ≥ ${doc.conf} and merge overlaps above IoU ${doc.iou}.`;
  $("det-proposals-slow").textContent = `${two.passes} network passes · ${secs(two.seconds)} · ${gmac(two.macs)}`;
  $("det-proposals-fast").textContent = `1 network pass · ${secs(one.seconds)} · ${gmac(one.macs)}`;
  $("det-proposals-two").replaceChildren(boxesView(doc, url, two.detections, ids, doc.proposals));
  $("det-proposals-one").replaceChildren(boxesView(doc, url, one.detections, ids));
  $("det-proposals-verdict").textContent = `YOLO's one pass was ${doc.time_ratio.toFixed(0)}× faster and did ` +
    `${doc.mac_ratio.toFixed(1)}× fewer multiply-adds than classifying ${two.passes} regions one by one. ` +
    `The two stages found ${two.detections.length} object${two.detections.length === 1 ? "" : "s"}, YOLO ${one.detections.length}; ` +
    `${doc.yolo_found} of YOLO's boxes were found by the two stages too (same class, IoU ≥ 0.5). ` +
    `A region classified alone has lost its context, and no region is better than the segmentation that made it.`;
}
