// The look as one plain value: colour, label, search (regex, case), selection and camera under
// the keys LOOK_KEYS, read from the map's state (lookOf) and applied to it (applyLook). Owns the
// look's keys and how their values are spelled (strings and flags, as a URL holds them); which
// host owns the look, and when it is sent, is the host's business.
import { indexOf, selectedRows } from "./state.js";

export const LOOK_KEYS = ["color", "label", "search", "regex", "case", "sel", "cam"];
const MAX_SELECTION_IN_LOOK = 1000;

export function lookOf(S) {
  const p = S.panels[0], cam = p && p.cam ? Object.values(p.cam).map((v) => +v.toPrecision(5)).join(",") : "";
  return { color: S.colorBy || "", label: S.labelBy || "", search: S.search, regex: S.regex, case: S.caseSensitive,
    sel: selectedRows(S).slice(0, MAX_SELECTION_IN_LOOK), cam };
}

const isOn = (value) => [true, 1, "1", "true"].includes(value);

export function applyLook(S, look) {
  if (!look) return;
  if ("color" in look) S.colorBy = S.data.columns.has(look.color) ? look.color : null;
  if ("label" in look) S.labelBy = S.data.columns.has(look.label) ? look.label : null;
  if ("search" in look) S.search = String(look.search || "");
  if ("regex" in look) S.regex = isOn(look.regex);
  if ("case" in look) S.caseSensitive = isOn(look.case);
  if (look.sel) {
    const rows = Array.isArray(look.sel) ? look.sel : String(look.sel).split(",");
    S.selected.fill(0);
    for (const r of rows) { const i = indexOf(S, Number(r)); if (i >= 0) S.selected[i] = 1; }
  }
  if (look.cam && S.panels[0]) {
    const values = String(look.cam).split(",").map(Number), p = S.panels[0], keys = Object.keys(p.cam);
    if (values.length === keys.length && values.every(Number.isFinite)) keys.forEach((k, j) => (p.cam[k] = values[j]));
  }
}
