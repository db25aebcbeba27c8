// The toolbar: fills the column menus, shows the state in the controls (syncControls), turns a
// control's change into a state change through the controller (bindControls), and enables the
// buttons that apply (updateButtons). Each change names the look's keys it changed
// (map.lookChanged(keys)), so a host can tell the owner of the look exactly what changed.
import { isolatedRows } from "./look.js";
import { selectedRows } from "./state.js";

const NONE = "(none)";

function fillSelect(select, names, value, withNone) {
  select.replaceChildren();
  for (const name of withNone ? [NONE, ...names] : names) select.append(new Option(name, name));
  select.value = value == null ? (withNone ? NONE : names[0] || "") : value;
}

export function syncControls(map) {
  const S = map.state, els = map.els, names = [...S.data.columns.keys()];
  fillSelect(els.colorBy, names, S.colorBy, true);
  fillSelect(els.labelBy, names, S.labelBy, true);
  fillSelect(els.searchIn, names, S.searchIn, false);
  els.search.value = S.search; els.regex.checked = S.regex; els.case.checked = S.caseSensitive;
  els.contours.checked = S.contours; els.reproject.checked = S.reproject;
}

// Isolate: the selected points alone (the others hidden in place; re-projected by the host when
// asked); Show all: every point again.
function isolate(map) {
  const S = map.state;
  S.hidden = new Uint8Array(S.data.n); for (let i = 0; i < S.data.n; i++) S.hidden[i] = S.selected[i] ? 0 : 1;
  S.isolatedRows = selectedRows(S);
  for (const p of S.panels) p.contourCache = null;
  map.refreshColors(); map.requestDraw(); map.lookChanged(["iso", "reproject"]);
  map.emit({ type: "action", action: "isolate" });
}

function showAll(map) {
  const S = map.state;
  S.hidden = null; S.isolatedRows = [];
  for (const p of S.panels) p.contourCache = null;
  map.refreshColors(); map.requestDraw(); map.lookChanged(["iso"]);
  map.emit({ type: "action", action: "show_all" });
}

export function bindControls(map) {
  const S = map.state, els = map.els;
  els.colorBy.addEventListener("change", (e) => { S.colorBy = e.target.value === NONE ? null : e.target.value; map.refreshColors(); map.requestDraw(); map.lookChanged(["color"]); });
  els.labelBy.addEventListener("change", (e) => { S.labelBy = e.target.value === NONE ? null : e.target.value; map.requestDraw(); map.lookChanged(["label"]); });
  const research = (keys) => { map.refresh(); map.lookChanged(keys); };
  els.search.addEventListener("input", (e) => {
    S.search = e.target.value;
    if (S.search) { S.focus = -1; S.highlight = null; S.highlightList = []; }  // a typed query replaces the clicked point's highlight
    research(["search"]);
  });
  els.searchIn.addEventListener("change", (e) => { S.searchIn = e.target.value; research(["search_in"]); });
  els.regex.addEventListener("change", (e) => { S.regex = e.target.checked; research(["regex"]); });
  els.case.addEventListener("change", (e) => { S.caseSensitive = e.target.checked; research(["case"]); });
  for (const radio of els.modes) radio.addEventListener("change", (e) => { S.mode = e.target.value; });
  els.contours.addEventListener("change", (e) => { S.contours = e.target.checked; map.requestDraw(); map.lookChanged(["density"]); });
  els.isolate.addEventListener("click", () => isolate(map));
  els.reproject.addEventListener("change", (e) => {
    S.reproject = e.target.checked;
    updateButtons(map);
    if (isolatedRows(S).length) { map.lookChanged(["reproject"]); map.emit({ type: "action", action: "reproject" }); }
  });
  els.showAll.addEventListener("click", () => showAll(map));
  els.clear.addEventListener("click", () => { S.selected.fill(0); S.focus = -1; map.refreshColors(); map.requestDraw(); map.lookChanged(["sel"]); map.emit({ type: "select" }); });
  els.reset.addEventListener("click", () => { for (const p of S.panels) p.resetCamera(); map.requestDraw(); map.lookChanged(["cam"]); });
}

export function updateButtons(map) {
  const S = map.state, els = map.els, isolated = !!S.hidden || S.isolatedRows.length > 0;
  els.isolate.disabled = !S.selectedCount;
  els.isolate.title = S.selectedCount
    ? `Show only the ${S.selectedCount.toLocaleString("en-US")} selected points` + (S.reproject ? ", laid out again on their own" : ", the others hidden in place")
    : "Select some points first (click, Box or Lasso), then show only them";
  els.reprojectWrap.hidden = !S.canReproject;
  els.showAll.disabled = !isolated;
  els.clear.disabled = !S.selectedCount;
  const any3d = S.panels.some((p) => p.dims === 3);
  els.contoursWrap.hidden = any3d;
  els.panLabel.textContent = any3d ? "Rotate" : "Pan";
}
