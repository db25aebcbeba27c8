// The legend (a swatch and count per category, "other" unfolded; or the numeric scale) and the
// status line (points shown, dimensions, search matches or the search's error, selection).
import { OTHER_SLOT, PALETTE, VIRIDIS } from "./colors.js";

const plural = (n, one, many) => `${n.toLocaleString("en-US")} ${n === 1 ? one : (many || one + "s")}`;

export function renderLegend(map) {
  const S = map.state, el = map.els.legend, data = S.data, doc = el.ownerDocument;
  const div = (props) => Object.assign(doc.createElement("div"), props), span = (props) => Object.assign(doc.createElement("span"), props);
  el.replaceChildren();
  const col = S.colorBy ? data.columns.get(S.colorBy) : null;
  if (!col) { el.hidden = true; return; }
  el.hidden = false;
  const head = div({ textContent: S.colorBy }); head.style.fontWeight = "600"; el.append(head);
  if (col.type === "number") {
    const bar = div({ className: "bar" });
    bar.style.background = `linear-gradient(to right, ${VIRIDIS.join(",")})`;
    const ends = div({ className: "ends" });
    const fmt = (v) => String(Math.round(v * 1000) / 1000);
    ends.append(span({ textContent: fmt(col.min) }), span({ textContent: fmt(col.max) }));
    el.append(bar, ends);
    if (col.missing) el.append(div({ textContent: `${plural(col.missing, "point")} missing (grey)` }));
    return;
  }
  for (const entry of col.legend) {
    const item = div({ className: "item" });
    const sw = span({ className: "swatch" }); sw.style.background = PALETTE[entry.slot];
    const name = span({ textContent: entry.name });
    const count = span({ className: "count", textContent: entry.count.toLocaleString("en-US") });
    item.append(sw, name, count); el.append(item);
    if (entry.slot === OTHER_SLOT && col.other.values) {
      const names = col.other.names.map(([v, c]) => `${v} (${c.toLocaleString("en-US")})`);
      const more = col.other.values - names.length;
      item.title = names.slice(0, 40).join("\n") + (col.other.values > 40 ? `\n… and ${(col.other.values - 40).toLocaleString("en-US")} more` : "");
      const details = doc.createElement("details"), summary = doc.createElement("summary");
      summary.textContent = `${plural(col.other.values, "value")}, ${plural(col.other.points, "point")}`;
      const list = div({ textContent: names.join(", ") + (more > 0 ? `, and ${more.toLocaleString("en-US")} more` : "") });
      details.append(summary, list); el.append(details);
    }
  }
}

export function renderStatus(map) {
  const S = map.state, data = S.data, el = map.els.status; if (!data) return;
  let shown = data.n;
  if (S.hidden) { shown = 0; for (let i = 0; i < data.n; i++) shown += S.hidden[i] ? 0 : 1; }
  const isolated = shown < data.n ? ` of ${data.n.toLocaleString("en-US")} (isolated: the others hidden)`
    : S.isolatedRows.length ? " (isolated, laid out on their own)" : "";
  const parts = [plural(shown, "point") + isolated];
  if (data.panels[0]) parts.push(`${data.panels[0].dims}D`);
  if (S.search && !S.searchError) {
    const how = S.regex ? `regex /${S.search}/` : `“${S.search}”`;
    parts.push(`${plural(S.matchCount, "match", "matches")} for ${how}${S.caseSensitive ? " (case-sensitive)" : ""}`);
  }
  if (S.selectedCount) parts.push(`${S.selectedCount.toLocaleString("en-US")} selected`);
  if (data.images) parts.push("images: hover for one, zoom in to see them all");
  else if (data.imagesNote) parts.push(data.imagesNote);
  el.replaceChildren(parts.join(" · "));
  if (S.searchError) { const e = el.ownerDocument.createElement("span"); e.className = "error"; e.textContent = " · " + S.searchError; el.append(e); }
  el.dataset.points = String(shown);
  el.dataset.matches = String(S.matchCount);
}
