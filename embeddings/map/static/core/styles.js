// The map's stylesheet, scoped under .emap so that a notebook page or an exported file around it
// is left alone; added once to the document (or shadow root) a map is drawn in. The host sizes
// the .emap element; everything inside follows.

const CSS = `
.emap { display: flex; flex-direction: column; height: 100%; position: relative; box-sizing: border-box;
  font-family: "Source Sans Pro", system-ui, sans-serif; font-size: 14px; color: #262730; text-align: left; }
.emap .toolbar { display: flex; flex-direction: column; gap: 4px; padding: 2px 0 6px; font-size: 13px; }
.emap .toolbar .row { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; }
.emap .toolbar label { display: inline-flex; align-items: center; gap: 4px; margin: 0; font: inherit; }
.emap .toolbar select, .emap .toolbar input[type=search] { font: inherit; padding: 2px 4px; border: 1px solid #c9cbd3; border-radius: 4px; background: #fff; max-width: 8em; }
.emap .toolbar .search input { width: 9em; max-width: none; }
.emap .toolbar button { font: inherit; padding: 2px 8px; border: 1px solid #c9cbd3; border-radius: 4px; background: #fff; cursor: pointer; }
.emap .toolbar button:disabled { opacity: .45; cursor: default; }
.emap .toolbar .modes { display: inline-flex; gap: 6px; }
.emap .live { display: flex; align-items: center; gap: 8px; height: 28px; box-sizing: border-box; padding: 0 0 4px;
  white-space: nowrap; overflow: hidden; font-variant-numeric: tabular-nums; }  /* a fixed height: a new text never moves the map */
.emap .live button { font: inherit; padding: 2px 10px; border: 1px solid #c9cbd3; border-radius: 4px; background: #fff; cursor: pointer; }
.emap .live button:disabled { opacity: .45; cursor: default; }
.emap .live[data-state=running] span::before, .emap .live[data-state=preparing] span::before { content: "● "; color: #2e7d32; }
.emap .body { display: flex; flex: 1; min-height: 0; gap: 8px; }
.emap .panels { flex: 1; display: grid; gap: 6px; min-width: 0; grid-auto-rows: minmax(0, 1fr); }
.emap .panel { position: relative; min-width: 0; min-height: 0; border: 1px solid #e6e6ea; border-radius: 4px; overflow: hidden; background: #fff; }
.emap .panel canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; touch-action: none; }
.emap .panel .title { position: absolute; left: 6px; top: 4px; font-weight: 600; pointer-events: none; z-index: 2; background: rgba(255,255,255,.8); }
.emap .legend { width: 180px; overflow-y: auto; font-size: 13px; }
.emap .legend .item { display: flex; align-items: center; gap: 6px; padding: 1px 0; }
.emap .legend .swatch { width: 10px; height: 10px; border-radius: 50%; flex: none; }
.emap .legend .count { color: #888; margin-left: auto; }
.emap .legend details { margin: 2px 0 0 16px; color: #555; }
.emap .legend .bar { height: 12px; border-radius: 2px; margin: 4px 0; }
.emap .legend .ends { display: flex; justify-content: space-between; color: #555; }
.emap .status { font-size: 13px; color: #555; padding-top: 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.emap .status .error { color: #c0392b; }
.emap .tooltip { position: absolute; z-index: 10; max-width: 380px; background: rgba(255,255,255,.97); border: 1px solid #bbb; border-radius: 4px; padding: 4px 6px; font-size: 12px; pointer-events: none; white-space: pre-wrap; word-break: break-word; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
.emap .tooltip b { font-weight: 600; }
.emap .tooltip .picture { display: block; image-rendering: pixelated; border: 1px solid #ddd; margin-bottom: 2px; }
.emap [hidden] { display: none !important; }  /* a hidden control stays hidden whatever its display */
`;

const MARK = "data-emap-style";

export function addStyles(root) {
  const scope = root.getRootNode();  // the document, or a shadow root
  const parent = scope.head || scope;
  if (parent.querySelector(`style[${MARK}]`)) return;
  const style = root.ownerDocument.createElement("style");
  style.setAttribute(MARK, "");
  style.textContent = CSS;
  parent.appendChild(style);
}
