// The map's elements: the toolbar (colour, label, search, drag mode, density, isolate...), the
// panels' host, the legend, the status line and the tooltip, built inside the host's root
// element. Owns their markup and how the other modules find them (els.<name>); no behaviour.
import { addStyles } from "./styles.js";

// data-part names each element; a host with one map per page (ids: true) also gets them as ids.
const TEMPLATE = `
<div class="toolbar" role="toolbar" aria-label="Map controls">
  <label>Colour by <select data-part="color-by"></select></label>
  <label>Label by <select data-part="label-by"></select></label>
  <label class="search">Search <input data-part="search" type="search" placeholder="substring, or a regex" autocomplete="off" spellcheck="false"></label>
  <label>in <select data-part="search-in" aria-label="Search in column"></select></label>
  <label class="check"><input data-part="regex" type="checkbox"> Regex</label>
  <label class="check"><input data-part="case" type="checkbox"> Match case</label>
  <span class="modes" role="radiogroup" aria-label="Drag to">
    <label class="check"><input type="radio" value="pan" checked> <span data-part="pan-label">Pan</span></label>
    <label class="check"><input type="radio" value="box"> Box</label>
    <label class="check"><input type="radio" value="lasso"> Lasso</label>
  </span>
  <label class="check" data-part="contours-wrap"><input data-part="contours" type="checkbox"> Density</label>
  <button data-part="isolate" type="button" title="Show only the selected points (in the browser)">Isolate</button>
  <button data-part="show-all" type="button">Show all</button>
  <button data-part="clear" type="button">Clear selection</button>
  <button data-part="reset" type="button">Reset view</button>
</div>
<div class="body">
  <div class="panels" data-part="panels"></div>
  <aside class="legend" data-part="legend" aria-label="Legend"></aside>
</div>
<div class="status" data-part="status" role="status" aria-live="polite"></div>
<div class="tooltip" data-part="tooltip" role="tooltip" hidden></div>`;

let maps = 0;  // radio groups need a name of their own per map on a page

export function buildDom(root, { ids = false } = {}) {
  addStyles(root);
  root.classList.add("emap");
  root.innerHTML = TEMPLATE;
  const els = { root };
  for (const el of root.querySelectorAll("[data-part]")) {
    const part = el.dataset.part;
    els[part.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = el;  // "color-by" -> els.colorBy
    if (ids) el.id = part;
  }
  maps += 1;
  els.modes = [...root.querySelectorAll("input[type=radio]")];
  for (const radio of els.modes) radio.name = ids ? "mode" : `mode-${maps}`;
  return els;
}
