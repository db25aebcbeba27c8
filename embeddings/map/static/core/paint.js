// Point colours: each point's RGBA word from the colour column, then dimmed unless bright
// (search matches, else the host's highlight, else the selection), hidden when isolated away;
// and the index lists of the bright and the selected points that the renderer draws on top.
import { DIMMED32, MISSING32, MUTED_SLOT, PALETTE_RGB, PLAIN32, VIRIDIS_LUT, rgba32 } from "./colors.js";

function baseColors(S, col, n) {  // one RGBA word per point for the colour column, cached per column
  if (S.baseFor === (col ? col.name : null) && S.base && S.base.length === n) return S.base;
  const out = new Uint32Array(n);
  if (!col) out.fill(PLAIN32);
  else if (col.type === "number") {
    const v = col.numbers, lo = col.min, scale = col.max > col.min ? 255 / (col.max - col.min) : 0;
    for (let i = 0; i < n; i++) { const x = v[i]; out[i] = x === x ? VIRIDIS_LUT[((x - lo) * scale) | 0] : MISSING32; }
  } else {
    const lut = new Uint32Array(col.slots.length), codes = col.codes;
    for (let k = 0; k < lut.length; k++) lut[k] = rgba32(PALETTE_RGB[col.slots[k]]);
    for (let i = 0; i < n; i++) out[i] = lut[codes[i]];
  }
  S.base = out; S.baseFor = col ? col.name : null;
  S.drawOrder = drawOrder(col, n);
  return out;
}

// The order the points are drawn in when the colour column has muted values (a cluster
// column's noise): those first, so the others are drawn over them; else null (row order).
function drawOrder(col, n) {
  if (!col || col.type === "number" || !col.legend.some((e) => e.muted)) return null;
  const muted = col.slots.map((slot) => (slot === MUTED_SLOT ? 1 : 0)), codes = col.codes, order = new Uint32Array(n);
  let first = 0;
  for (let i = 0; i < n; i++) if (muted[codes[i]]) first++;
  let a = 0, b = first;
  for (let i = 0; i < n; i++) { if (muted[codes[i]]) order[a++] = i; else order[b++] = i; }
  return order;
}

// Sets S.colors (4 bytes per point), S.brightIdx, S.selectedIdx (shown ones) and S.selectedCount.
export function paintPoints(S) {
  const data = S.data;
  const n = data.n, col = S.colorBy ? data.columns.get(S.colorBy) : null;
  if (!S.colors || S.colors.length !== 4 * n) S.colors = new Uint8Array(4 * n);
  const out32 = new Uint32Array(S.colors.buffer), hidden = S.hidden, sel = S.selected;
  out32.set(baseColors(S, col, n));
  let selCount = 0;
  for (let i = 0; i < n; i++) selCount += sel[i];
  S.selectedCount = selCount;
  // Search wins the highlight; else the neighbours the host sent (of a clicked point or a typed
  // query: only those, so a query's neighbours never keep an earlier point lit); else the selection.
  // The selection is ringed whatever is bright.
  let bright = null;
  if (S.matches) bright = S.matches;
  else if (S.highlight) bright = S.highlight;
  else if (S.selectedCount) bright = sel.slice();
  let brightCount = 0;
  if (bright) for (let i = 0; i < n; i++) { if (bright[i]) brightCount++; else out32[i] = DIMMED32; }
  if (hidden) for (let i = 0; i < n; i++) if (hidden[i]) { out32[i] = 0; if (bright && bright[i]) brightCount--; }
  const brightIdx = bright ? new Uint32Array(brightCount) : null, selIdx = new Uint32Array(selCount);
  if (bright) { let b = 0; for (let i = 0; i < n; i++) if (bright[i] && !(hidden && hidden[i])) brightIdx[b++] = i; }
  if (selCount) { let s = 0; for (let i = 0; i < n; i++) if (sel[i]) selIdx[s++] = i; }
  const shownSel = hidden ? selIdx.filter((i) => !hidden[i]) : selIdx;
  S.brightIdx = brightIdx; S.selectedIdx = shownSel; S.selectedCount = selCount;
}
