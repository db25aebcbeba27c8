// Pointer input on a Panel: wheel zoom, drag to pan/rotate or to draw a box or lasso, hover (the
// tooltip), click (select and focus a point), double-click (reset the camera). Turns gestures
// into state changes and events through the controller (map.js).
import { markInPolygon, pick } from "./picking.js";
import { rowOf } from "./state.js";

export function bindPointer(panel, map) {
  const S = map.state, c = panel.canvas;
  c.addEventListener("wheel", (e) => { e.preventDefault(); panel.zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015)); }, { passive: false });
  c.addEventListener("pointerdown", (e) => {
    c.setPointerCapture(e.pointerId);
    const mode = e.shiftKey && S.mode === "pan" ? "box" : S.mode;
    panel.drag = { x: e.offsetX, y: e.offsetY, lastX: e.offsetX, lastY: e.offsetY, mode, moved: false, add: e.shiftKey || e.metaKey || e.ctrlKey,
      pan: e.button === 2 || (e.altKey && panel.dims === 3), path: mode === "pan" ? null : [[e.offsetX, e.offsetY]] };
  });
  c.addEventListener("pointermove", (e) => {
    if (!panel.drag) { hoverAt(panel, map, e.offsetX, e.offsetY, e.clientX, e.clientY); return; }
    const d = panel.drag, dx = e.offsetX - d.lastX, dy = e.offsetY - d.lastY;
    if (Math.abs(e.offsetX - d.x) + Math.abs(e.offsetY - d.y) > 3) d.moved = true;
    d.lastX = e.offsetX; d.lastY = e.offsetY;
    if (d.mode === "pan") panel.panBy(dx, dy, d.pan);
    else if (d.mode === "box") d.path = [[d.x, d.y], [e.offsetX, d.y], [e.offsetX, e.offsetY], [d.x, e.offsetY]];
    else d.path.push([e.offsetX, e.offsetY]);
    map.hideTooltip(); map.requestDraw();
  });
  c.addEventListener("pointerup", (e) => {
    const d = panel.drag; panel.drag = null;
    if (!d) return;
    if (!d.moved) { clickAt(panel, map, e.offsetX, e.offsetY, d.add); return; }
    if (d.path && d.path.length > 2) selectInPolygon(panel, map, d.path, d.add);
    map.requestDraw(); map.lookChanged(d.mode === "pan" ? ["cam"] : ["sel"]);
  });
  c.addEventListener("pointerleave", () => { if (!panel.drag && S.hover >= 0) { S.hover = -1; map.hideTooltip(); map.requestDraw(); } });
  c.addEventListener("contextmenu", (e) => e.preventDefault());
  c.addEventListener("dblclick", () => { panel.resetCamera(); map.requestDraw(); map.lookChanged(["cam"]); });
}

function hoverAt(panel, map, x, y, clientX, clientY) {  // at most one pick per frame
  if (panel.hoverPending) { panel.hoverPending = [x, y, clientX, clientY]; return; }
  panel.hoverPending = [x, y, clientX, clientY];
  requestAnimationFrame(() => {
    const S = map.state, [px, py, cx, cy] = panel.hoverPending; panel.hoverPending = null;
    const i = pick(panel, S.hidden, px, py);
    if (i !== S.hover) { S.hover = i; map.requestDraw(); }
    if (i >= 0) map.showTooltip(i, cx, cy); else map.hideTooltip();
  });
}

function clickAt(panel, map, x, y, add) {
  const S = map.state, i = pick(panel, S.hidden, x, y);
  if (i < 0) return;
  if (!add) { S.selected.fill(0); }
  S.selected[i] = add ? 1 - S.selected[i] : 1;
  S.focus = i;
  map.refreshColors(); map.requestDraw(); map.lookChanged(["sel"]);
  map.emit({ type: "click", clicked: rowOf(S, i) });
}

function selectInPolygon(panel, map, poly, add) {
  const S = map.state;
  if (!add) S.selected.fill(0);
  markInPolygon(panel, S.hidden, poly, S.selected);
  S.focus = -1;
  map.refreshColors();
  map.emit({ type: "select" });
}
