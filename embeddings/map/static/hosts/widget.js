// The notebook host: the map as an anywidget (JupyterLab, Jupyter Notebook, VS Code), with
// embeddings/map/widget.py (MapWidget) as the Python side. Owns the mapping between the model's
// traits and the map: the payload arrives once as a binary buffer (`payload`); `color`,
// `label`, `search`, `regex`, `case`, `selected` (row ids) and `highlight` (row ids lit, e.g. a
// clicked point's neighbours) flow both ways without it; clicks and actions go to Python as
// messages. A layout forming on the kernel comes as `coords` (coordinates only, the look stays)
// and `live` (how far it has got: the live bar), and the bar's Pause / Resume / Stop go back as
// messages. Bundled into one module by embeddings.map.bundle (a widget's code has no URL to
// import the core's files from).
import { createMap } from "../core/map.js";
import { decodePayload } from "../core/payload.js";

const SYNC_MS = 150;  // the map's own look changes reach Python this long after the last one

function sameRows(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.style.background = "#fff"; root.style.padding = "4px";
  el.appendChild(root);
  let fromMap = false;  // while the map writes a trait, its change is not applied back to the map
  let lookTimer = null;
  const map = createMap(root, { onEvent, onLook });
  const S = map.state;
  el.__map = map;  // tests find a map's controller from its element

  function write(values) {  // traits from the map's side, sent to Python in one message
    fromMap = true;
    try { for (const [k, v] of Object.entries(values)) model.set(k, v); } finally { fromMap = false; }
    model.save_changes();
  }
  function onEvent(event) {
    if (event.type === "live") { model.send({ type: "live", action: event.action }); return; }
    write({ selected: map.selectedRows() });
    model.send({ type: event.type, clicked: event.clicked, action: event.action });
  }
  function onLook() {
    clearTimeout(lookTimer);
    lookTimer = setTimeout(() => {
      const look = map.look();
      const values = { color: look.color, label: look.label, search: look.search, regex: look.regex, case: look.case };
      if (!S.highlight && model.get("highlight").length) values.highlight = [];  // a typed query put out the lit points
      if (!sameRows(map.selectedRows(), model.get("selected"))) values.selected = map.selectedRows();
      write(values);
    }, SYNC_MS);
  }

  function load() {
    const bytes = model.get("payload");
    if (!bytes || !bytes.byteLength) return;
    let data;
    try { data = decodePayload(bytes); } catch (err) { map.showError("The map could not read its data: " + err.message); return; }
    map.setData(model.get("data_id"), data, {
      colorBy: model.get("color") || null, labelBy: model.get("label") || null, textColumn: model.get("text_column") || null,
      look: { search: model.get("search"), regex: model.get("regex"), case: model.get("case"), sel: model.get("selected") },
    });
    map.setHighlight(model.get("highlight"));
    map.setLive(model.get("live") || null);
    if (model.get("coords") && model.get("coords").byteLength) relayout();
    map.refresh();
  }
  function relayout() {  // a new layout of the points held: coordinates only
    const bytes = model.get("coords");
    if (!S.data || !bytes || !bytes.byteLength) return;
    let data;
    try { data = decodePayload(bytes); } catch (err) { map.showError("The map could not read its data: " + err.message); return; }
    if (map.setLayout(S.dataId, data.panels)) map.refresh();
  }
  const size = () => { root.style.height = model.get("height") + "px"; };

  const handlers = {
    "change:payload": load,
    "change:coords": relayout,
    "change:live": () => map.setLive(model.get("live") || null),
    "change:height": size,
    "change:color": () => { if (!fromMap && S.data) { map.setColorBy(model.get("color") || null); map.refresh(); } },
    "change:label": () => { if (!fromMap && S.data) { map.setLabelBy(model.get("label") || null); map.refresh(); } },
    "change:selected": () => {
      if (fromMap || !S.data || sameRows(map.selectedRows(), model.get("selected"))) return;
      map.setSelection(model.get("selected")); map.refresh();
    },
    "change:highlight": () => { if (!fromMap && S.data) { map.setHighlight(model.get("highlight")); map.refresh(); } },
  };
  const lookChanged = () => {
    if (fromMap || !S.data) return;
    map.applyLook({ search: model.get("search"), regex: model.get("regex"), case: model.get("case") });
    map.refresh();
  };
  for (const name of ["search", "regex", "case"]) handlers[`change:${name}`] = lookChanged;
  for (const [name, fn] of Object.entries(handlers)) model.on(name, fn);
  size();
  load();
  return () => {  // the output is cleared or re-rendered
    for (const [name, fn] of Object.entries(handlers)) model.off(name, fn);
    clearTimeout(lookTimer);
    map.destroy();
  };
}

export default { render };
