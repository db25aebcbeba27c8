// The toolbar: fills the column menus, shows the state in the controls (syncControls), turns a
// control's change into a state change through the controller (bindControls), and enables the
// buttons that apply (updateButtons).

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
  els.contours.checked = S.contours;
}

export function bindControls(map) {
  const S = map.state, els = map.els;
  els.colorBy.addEventListener("change", (e) => { S.colorBy = e.target.value === NONE ? null : e.target.value; map.refreshColors(); map.requestDraw(); map.lookChanged(); });
  els.labelBy.addEventListener("change", (e) => { S.labelBy = e.target.value === NONE ? null : e.target.value; map.requestDraw(); map.lookChanged(); });
  const research = () => { map.refresh(); map.lookChanged(); };
  els.search.addEventListener("input", (e) => {
    S.search = e.target.value;
    if (S.search) { S.focus = -1; S.highlight = null; S.highlightList = []; }  // a typed query replaces the clicked point's highlight
    research();
  });
  els.searchIn.addEventListener("change", (e) => { S.searchIn = e.target.value; research(); });
  els.regex.addEventListener("change", (e) => { S.regex = e.target.checked; research(); });
  els.case.addEventListener("change", (e) => { S.caseSensitive = e.target.checked; research(); });
  for (const radio of els.modes) radio.addEventListener("change", (e) => { S.mode = e.target.value; });
  els.contours.addEventListener("change", (e) => { S.contours = e.target.checked; map.requestDraw(); });
  els.isolate.addEventListener("click", () => {
    S.hidden = new Uint8Array(S.data.n); for (let i = 0; i < S.data.n; i++) S.hidden[i] = S.selected[i] ? 0 : 1;
    for (const p of S.panels) p.contourCache = null;
    map.refreshColors(); map.requestDraw(); map.emit({ type: "action", action: "isolate" });
  });
  els.showAll.addEventListener("click", () => {
    S.hidden = null; for (const p of S.panels) p.contourCache = null;
    map.refreshColors(); map.requestDraw(); map.emit({ type: "action", action: "show_all" });
  });
  els.clear.addEventListener("click", () => { S.selected.fill(0); S.focus = -1; map.refreshColors(); map.requestDraw(); map.lookChanged(); map.emit({ type: "select" }); });
  els.reset.addEventListener("click", () => { for (const p of S.panels) p.resetCamera(); map.requestDraw(); map.lookChanged(); });
}

export function updateButtons(map) {
  const S = map.state, els = map.els;
  els.isolate.disabled = !S.selectedCount;
  els.showAll.disabled = !S.hidden;
  els.clear.disabled = !S.selectedCount;
  const any3d = S.panels.some((p) => p.dims === 3);
  els.contoursWrap.hidden = any3d;
  els.panLabel.textContent = any3d ? "Rotate" : "Pan";
}
