// The map's elements: the toolbar (colour, label, search, drag mode, density, isolate...), the
// live bar (a layout forming), the panels' host, the legend, the status line and the tooltip, built inside the host's root
// element. Owns their markup and how the other modules find them (els.<name>); no behaviour.
import { addStyles } from "./styles.js";

// data-part names each element; a host with one map per page (ids: true) also gets them as ids.
const TEMPLATE = `
<div class="toolbar" role="toolbar" aria-label="Map controls">
 <div class="row">
  <label title="Colour by a column">Colour <select data-part="color-by" aria-label="Colour by"></select></label>
  <label title="Label the points by a column (those that have room)">Label <select data-part="label-by" aria-label="Label by"></select></label>
  <label class="search">Search <input data-part="search" type="search" placeholder="text, or a regex" autocomplete="off" spellcheck="false"></label>
  <label>in <select data-part="search-in" aria-label="Search in column"></select></label>
  <label class="check"><input data-part="regex" type="checkbox"> Regex</label>
  <label class="check" title="Match case"><input data-part="case" type="checkbox" aria-label="Match case"> Aa</label>
 </div>
 <div class="row">
  <span class="modes" role="radiogroup" aria-label="Drag to">
    <label class="check"><input type="radio" value="pan" checked> <span data-part="pan-label">Pan</span></label>
    <label class="check"><input type="radio" value="box"> Box</label>
    <label class="check"><input type="radio" value="lasso"> Lasso</label>
  </span>
  <label class="check" data-part="contours-wrap"><input data-part="contours" type="checkbox"> Density</label>
  <button data-part="isolate" type="button" title="Show only the selected points">Isolate</button>
  <label class="check" data-part="reproject-wrap" title="Isolate lays the selected points out again on their own (a new projection of only them)" hidden><input data-part="reproject" type="checkbox"> re-project</label>
  <button data-part="show-all" type="button">Show all</button>
  <button data-part="clear" type="button">Clear selection</button>
  <button data-part="reset" type="button" title="Reset the view (or double-click the map)">Reset view</button>
 </div>
</div>
<div class="live" data-part="live" role="status" aria-live="polite" hidden>
  <span data-part="live-text"></span>
  <button data-part="live-pause" type="button">Pause</button>
  <button data-part="live-resume" type="button">Resume</button>
  <button data-part="live-stop" type="button" title="Keep the layout reached (Resume carries on from it)">Stop</button>
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
