// The look as one plain value: colour, label, search (the column searched, regex, case),
// selection, isolation (and whether it is re-projected), density and camera, under the keys
// LOOK_KEYS (the URL's spelling: embeddings/look.py reads the same keys), read from the map's
// state (lookOf) and applied to it (applyLook). Row ids, never positions: a look applies to any
// layout of the same points. Which host owns the look, and when it is sent, is the host's business.
import { indexOf, rowOf, selectedRows } from "./state.js";

export const LOOK_KEYS = ["color", "label", "search", "search_in", "regex", "case", "sel", "iso", "reproject", "density", "cam"];

function cameraText(S) {
  const p = S.panels[0];
  return p && p.cam ? Object.values(p.cam).map((v) => +v.toPrecision(5)).join(",") : "";
}

export function isolatedRows(S) {  // the row ids shown when some are hidden, else []
  if (!S.hidden) return S.isolatedRows || [];
  const out = [];
  for (let i = 0; i < S.hidden.length; i++) if (!S.hidden[i]) out.push(rowOf(S, i));
  return out;
}

export function lookOf(S) {
  return { color: S.colorBy || "", label: S.labelBy || "", search: S.search, search_in: S.searchIn || "",
    regex: S.regex, case: S.caseSensitive, sel: selectedRows(S), iso: isolatedRows(S), reproject: S.reproject,
    density: S.contours, cam: cameraText(S) };
}

const isOn = (value) => [true, 1, "1", "true"].includes(value);
const rowList = (value) => (Array.isArray(value) ? value : String(value || "").split(",")).filter((r) => r !== "").map(Number);

// Applies the keys `look` holds (all of them, or only `keys`). A column these data lack is none.
export function applyLook(S, look, keys = null) {
  if (!look) return;
  const has = (k) => k in look && (!keys || keys.includes(k));
  if (has("color")) S.colorBy = S.data.columns.has(look.color) ? look.color : null;
  if (has("label")) S.labelBy = S.data.columns.has(look.label) ? look.label : null;
  if (has("search")) S.search = String(look.search || "");
  if (has("search_in") && S.data.columns.has(look.search_in)) S.searchIn = look.search_in;
  if (has("regex")) S.regex = isOn(look.regex);
  if (has("case")) S.caseSensitive = isOn(look.case);
  if (has("sel")) {
    S.selected.fill(0);
    for (const r of rowList(look.sel)) { const i = indexOf(S, r); if (i >= 0) S.selected[i] = 1; }
  }
  // re-project is an option of Isolate: it is the look's only while something is isolated
  if (has("reproject") && rowList(look.iso).length) S.reproject = isOn(look.reproject);
  if (has("iso")) {
    const rows = rowList(look.iso);
    S.isolatedRows = rows;
    S.hidden = null;
    if (rows.length) {  // hide the points not isolated (none, when these data are the isolated ones)
      const hidden = new Uint8Array(S.data.n).fill(1);
      for (const r of rows) { const i = indexOf(S, r); if (i >= 0) hidden[i] = 0; }
      if (hidden.some((h) => h)) S.hidden = hidden;
    }
    for (const p of S.panels) p.contourCache = null;
  }
  if (has("density")) S.contours = isOn(look.density);
  if (has("cam") && look.cam && S.panels[0]) {
    const values = String(look.cam).split(",").map(Number), p = S.panels[0], camKeys = Object.keys(p.cam);
    if (values.length === camKeys.length && values.every(Number.isFinite)) camKeys.forEach((k, j) => (p.cam[k] = values[j]));
  }
}
