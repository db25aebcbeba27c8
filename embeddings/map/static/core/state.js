// The map's state: one plain object per map (the data shown, the look's current values, what is
// selected, hidden, hovered, lit) that every core module reads and the controller (map.js)
// changes. Also the two mappings between a point's index here and its row id (its row in the
// data as loaded, which is what selections and events carry).

export function createState() {
  return {
    dataId: null, data: null,
    colorBy: null, labelBy: null, textColumn: null, searchIn: null,
    search: "", regex: false, caseSensitive: false, searchError: null,
    selected: null, selectedCount: 0,      // Uint8Array per point
    highlight: null, highlightList: [],     // from the host (neighbours): Uint8Array per point
    focus: -1,                              // the clicked / inspected point
    matches: null, matchCount: 0,           // search
    hidden: null,                           // Uint8Array: isolated in place (1 = hidden)
    isolatedRows: [], reproject: false,     // the isolated row ids; laid out again on their own (by the host)
    canReproject: false,                    // the host can lay out the isolated points again (the app)
    hover: -1, mode: "pan", contours: false, interacting: false,
    colors: null, brightIdx: null, selectedIdx: null, base: null, baseFor: null, drawOrder: null,
    annotations: [], panels: [],
    images: null,                           // points that are images: their decoded atlas (images.js)
    live: null,                             // a layout forming: {method, iteration, total, state, wanted, seq}
    stats: { renders: 0, lastDrawMs: 0, firstDrawAt: null, dataAt: null, layouts: 0, layoutAt: null },
  };
}

export const rowOf = (S, i) => (S.data.rows ? S.data.rows[i] : i);
export const indexOf = (S, row) => (S.data.rowIndex ? (S.data.rowIndex.has(row) ? S.data.rowIndex.get(row) : -1)
  : (row >= 0 && row < S.data.n ? row : -1));

export function selectedRows(S) {
  const out = [], sel = S.selected;
  if (!sel) return out;
  for (let i = 0; i < sel.length; i++) if (sel[i]) out.push(rowOf(S, i));
  return out;
}
