// Search: which points match the typed query (substring or regex, with or without case) in the
// chosen column; each distinct value of a category column is tested once.
import { cellText, columnValues } from "./payload.js";

export function computeSearch(S) {
  const data = S.data; S.matches = null; S.matchCount = 0; S.searchError = null;
  if (!data || !S.search) return;
  const col = data.columns.get(S.searchIn) || data.columns.values().next().value;
  if (!col) return;
  let test;
  try {
    if (S.regex) { const re = new RegExp(S.search, S.caseSensitive ? "u" : "iu"); test = (s) => re.test(s); }
    else if (S.caseSensitive) test = (s) => s.includes(S.search);
    else { const q = S.search.toLowerCase(); test = (s) => s.includes(q); }
  } catch (err) { S.searchError = `invalid regular expression: ${err.message.replace(/^Invalid regular expression: /, "")}`; return; }
  const n = data.n, m = new Uint8Array(n);
  const lower = !S.regex && !S.caseSensitive;
  if (col.type === "number") {
    for (let i = 0; i < n; i++) m[i] = test(lower ? cellText(col, i).toLowerCase() : cellText(col, i)) ? 1 : 0;
  } else {
    if (lower && !col._lower) col._lower = columnValues(col).map((v) => v.toLowerCase());
    const values = lower ? col._lower : columnValues(col), hit = new Uint8Array(values.length);
    for (let k = 0; k < values.length; k++) hit[k] = test(values[k]) ? 1 : 0;  // each distinct value once
    for (let i = 0; i < n; i++) m[i] = hit[col.codes[i]];
  }
  let count = 0; for (let i = 0; i < n; i++) count += m[i];
  S.matches = m; S.matchCount = count;
}
