// The tooltip of a hovered point: its text in bold, then a few of its other columns and its row
// id, placed beside the pointer inside the map's root element.
import { imageOf } from "./images.js";
import { cellText } from "./payload.js";
import { rowOf } from "./state.js";

const MAX_TOOLTIP_COLUMNS = 8;

export function showTooltip(map, i, clientX, clientY) {
  const S = map.state, data = S.data, tip = map.els.tooltip, root = map.els.root;
  const first = S.textColumn && data.columns.has(S.textColumn) ? S.textColumn : data.columns.keys().next().value;
  tip.replaceChildren();
  const picture = imageOf(S, i, tip.ownerDocument);  // points that are images: the picture first
  if (picture) tip.append(picture, "\n");
  if (first !== undefined) {
    const b = tip.ownerDocument.createElement("b"); let t = cellText(data.columns.get(first), i);
    if (t.length > 300) t = t.slice(0, 299) + "\u2026";
    b.textContent = t; tip.append(b);
  }
  let shown = 0;
  for (const [name, col] of data.columns) {
    if (name === first || shown >= MAX_TOOLTIP_COLUMNS) continue;
    let t = cellText(col, i); if (t.length > 100) t = t.slice(0, 99) + "\u2026";
    tip.append(`\n${name}: ${t}`); shown++;
  }
  tip.append(`\nrow ${rowOf(S, i)}`);
  tip.hidden = false;
  // within the root: the pointer's position relative to it, kept inside its width and height
  const box = root.getBoundingClientRect(), px = clientX - box.left, py = clientY - box.top;
  const x = Math.min(px + 14, root.clientWidth - tip.offsetWidth - 4);
  const y = py + 14 + tip.offsetHeight > root.clientHeight ? py - tip.offsetHeight - 8 : py + 14;
  tip.style.left = Math.max(0, x) + "px"; tip.style.top = Math.max(0, y) + "px";
  S.stats.tooltipAt = performance.now();
}

export function hideTooltip(map) { map.els.tooltip.hidden = true; }
