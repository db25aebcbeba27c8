// The map: createMap(root, options) builds one point map inside `root` and returns its
// controller, the only object a host talks to. It owns the state (state.js), wires the modules
// (renderer, picking, overlay, toolbar, legend, tooltip, live) and schedules drawing. Hosts give it
// data (setData with a decoded payload; setLayout with new coordinates of the same points, which
// keeps the look: colour, selection, camera), the look's values and how far a layout forming has
// got (setLive), and hear back through two callbacks:
// onEvent({type: "click"|"select"|"action"|"live", clicked, action}) for what a person did
// that the host may act on, and onLook(keys) whenever the look changed in the map (keys: which
// of LOOK_KEYS; read the values with look()). canReproject: the host can lay isolated points out
// again (the toolbar then offers it). No host protocol, URL or network here.
import { bindPointer } from "./interaction.js";
import { buildDom } from "./dom.js";
import { applyLook, lookOf } from "./look.js";
import { renderLegend, renderStatus } from "./legend.js";
import { bindLive, renderLive } from "./live.js";
import { paintPoints } from "./paint.js";
import { Panel } from "./renderer.js";
import { computeSearch } from "./search.js";
import { createState, indexOf, rowOf, selectedRows } from "./state.js";
import { bindControls, syncControls, updateButtons } from "./toolbar.js";
import { hideTooltip, showTooltip } from "./tooltip.js";
import { loadImages } from "./images.js";

const SETTLE_MS = 180;  // all points are drawn again this long after the camera's last move

export function createMap(root, { ids = false, onEvent = () => {}, onLook = () => {}, canReproject = false } = {}) {
  const S = createState();
  S.canReproject = canReproject;
  const map = { state: S, els: buildDom(root, { ids }) };
  let drawQueued = false, settleTimer = null;

  map.requestDraw = () => {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      const t0 = performance.now();
      for (const p of S.panels) { p.draw(); p.drawOverlay(); }
      S.stats.renders += 1; S.stats.lastDrawMs = performance.now() - t0; S.stats.drawnAt = performance.now();
      if (S.stats.firstDrawAt === null && S.data) S.stats.firstDrawAt = performance.now();
    });
  };
  map.markInteracting = () => {  // the camera moves: draw the LOD subset until it settles
    S.interacting = true;
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => { S.interacting = false; map.requestDraw(); }, SETTLE_MS);
  };
  map.lookChanged = (keys) => onLook(keys);
  map.emit = (event) => onEvent(Object.assign({ type: null, clicked: null, action: null }, event));
  map.showTooltip = (i, clientX, clientY) => showTooltip(map, i, clientX, clientY);
  map.hideTooltip = () => hideTooltip(map);

  // Colours, bright and selected points to every panel; the legend, status and buttons to match.
  map.refreshColors = () => {
    if (!S.data) return;
    paintPoints(S);
    for (const p of S.panels) p.uploadColors(S.colors, S.brightIdx, S.selectedIdx, S.drawOrder);
    renderLegend(map); renderStatus(map); updateButtons(map);
  };
  // After any change of search, highlight or selection: match, colour, draw.
  map.refresh = () => { computeSearch(S); map.refreshColors(); map.requestDraw(); };

  // New data (a decoded payload): panels, the look starts from `colorBy`, `labelBy` and `look`.
  map.setData = (id, data, { colorBy = null, labelBy = null, textColumn = null, look = null } = {}) => {
    S.dataId = id; S.data = data;
    const host = map.els.panels;
    if (S.panels.length !== data.panels.length) {
      for (const p of S.panels) p.release();
      host.replaceChildren();
      S.panels = data.panels.map((_, k) => { const p = new Panel(k, host, map); bindPointer(p, map); return p; });
    }
    const across = data.panels.length <= 3 ? data.panels.length : 2;  // four go two by two
    host.style.gridTemplateColumns = `repeat(${across}, minmax(0, 1fr))`;
    S.panels.forEach((p, k) => { p.size(); p.setData(data.panels[k], data.n); });
    S.selected = new Uint8Array(data.n); S.hidden = null; S.isolatedRows = []; S.reproject = false;
    S.focus = -1; S.hover = -1; S.base = null;
    S.highlight = null; S.highlightList = [];
    S.colorBy = colorBy && data.columns.has(colorBy) ? colorBy : null;
    S.labelBy = labelBy && data.columns.has(labelBy) ? labelBy : null;
    S.textColumn = textColumn || null;
    S.searchIn = S.textColumn && data.columns.has(S.textColumn) ? S.textColumn : data.columns.keys().next().value;
    applyLook(S, look);
    S.stats.dataAt = performance.now(); S.stats.firstDrawAt = null;
    syncControls(map);
    loadImages(S, data, (images) => {  // points that are images: their atlas, decoded once
      if (images.error) map.showError(images.error);
      for (const p of S.panels) p.sprites.upload(images);
      S.stats.imagesAt = performance.now();
      map.requestDraw();
    });
  };

  // A new layout of the points shown: their coordinates only, one {dims, coords} per panel (a
  // layout forming, or another projection of the same points). Everything else stays: colour,
  // labels, search, selection, isolation and the camera (relative to the layout's extent).
  // False when these coordinates are not of the points held (the host then sends the data).
  // axisTitles: the new layout's, when it has its own.
  map.setLayout = (id, panels, axisTitles = null) => {
    if (!S.data || panels.length !== S.panels.length || panels.some((p) => p.coords.length !== S.data.n * p.dims)) return false;
    const dimsChanged = panels.some((p, k) => p.dims !== S.panels[k].dims);
    S.dataId = id;
    S.data = Object.assign({}, S.data, { panels: panels.map((p, k) => ({ dims: p.dims, coords: p.coords, title: p.title || S.data.panels[k].title })) },
      axisTitles && axisTitles.length ? { axisTitles } : {});
    S.panels.forEach((p, k) => p.setCoords(S.data.panels[k]));
    if (dimsChanged) { map.refreshColors(); syncControls(map); }
    S.stats.layouts += 1; S.stats.layoutAt = performance.now();
    map.requestDraw();
    return true;
  };
  // How far a layout forming has got ({method, iteration, total, state, wanted}), or null: none.
  map.setLive = (live) => { S.live = live; renderLive(map); };

  // The host's values; each takes effect at the next refresh().
  map.setColorBy = (name) => { S.colorBy = S.data.columns.has(name) ? name : null; syncControls(map); };
  map.setLabelBy = (name) => { S.labelBy = S.data.columns.has(name) ? name : null; syncControls(map); };
  map.applyLook = (look, keys = null) => { applyLook(S, look, keys); syncControls(map); };
  map.setHighlight = (rows) => {  // row ids lit (a clicked point's neighbours)
    S.highlightList = rows.map((r) => indexOf(S, r)).filter((i) => i >= 0);
    S.highlight = S.highlightList.length ? new Uint8Array(S.data.n) : null;
    for (const i of S.highlightList) S.highlight[i] = 1;
  };
  map.setSelection = (rows) => {  // row ids selected
    S.selected.fill(0);
    for (const r of rows) { const i = indexOf(S, r); if (i >= 0) S.selected[i] = 1; }
  };
  map.setFocus = (row) => { S.focus = row == null ? -1 : indexOf(S, row); };
  map.setAnnotations = (annotations) => { S.annotations = annotations || []; };
  map.showError = (text) => { map.els.status.textContent = text; };

  map.look = () => lookOf(S);
  map.selectedRows = () => selectedRows(S);
  map.rowOf = (i) => rowOf(S, i);

  const resize = new ResizeObserver(() => map.requestDraw());
  resize.observe(map.els.panels);
  bindControls(map);
  bindLive(map);
  map.destroy = () => {  // the host removes the map: stop observing, free the GPU
    resize.disconnect(); clearTimeout(settleTimer);
    for (const p of S.panels) p.release();
    S.panels = [];
  };
  return map;
}
