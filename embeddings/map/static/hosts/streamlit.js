// The Streamlit host: the map as a bidirectional Streamlit component (the v1 protocol over
// postMessage; app/components/map/__init__.py is the Python side). Owns what is Streamlit's:
// render arguments (applied only when Python sends a new value, so the browser's own state is
// kept between reruns), the payload cache per data id and "need" (this iframe lacks the data of
// an id: it was re-created), the component value (events, with a sequence number), the frame
// height, and mirroring the look into the page's URL.
import { createMap } from "../core/map.js";
import { decodePayload } from "../core/payload.js";

const Streamlit = {
  send(type, data) { window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data), "*"); },
  ready() { this.send("streamlit:componentReady", { apiVersion: 1 }); },
  height(h) { this.send("streamlit:setFrameHeight", { height: h }); },
  value(v) { this.send("streamlit:setComponentValue", { value: v, dataType: "json" }); },
};

const H = { cache: new Map(), lastArgs: {}, seq: 0, height: 620, heightSent: false, mirrorUrl: false, needed: null, mirrored: null };
const map = createMap(document.getElementById("root"), { ids: true, onEvent: emit, onLook: scheduleMirror });
const S = map.state;
window.__map = S;  // tests and the benchmark read the state here ...
window.requestDraw = map.requestDraw;  // ... and redraw after moving a camera themselves

// Event numbers grow across iframes too (a re-created iframe must not reuse a handled number).
function nextSeq() { H.seq = Math.max(H.seq + 1, Date.now()); return H.seq; }

function emit(event) {
  nextSeq();
  Streamlit.value(Object.assign({ seq: H.seq, data_id: S.dataId, clicked: null, selection: map.selectedRows(), action: null, look: map.look() }, event));
}

// ------------------------------------------------------------------ the look <-> the page's URL
let mirrorTimer = null;
function scheduleMirror() {
  if (!H.mirrorUrl) return;
  clearTimeout(mirrorTimer);
  mirrorTimer = setTimeout(mirrorUrl, 250);
}
function mirrorUrl() {  // the look into the page's query string, without a rerun
  try {
    const w = window.parent, url = new URL(w.location.href), v = map.look(), q = url.searchParams;
    const mirrored = {};
    const put = (k, val) => { if (val) { q.set(k, val); mirrored[k] = String(val); } else q.delete(k); };
    put("color", v.color); put("label", v.label); put("search", v.search);
    put("regex", v.regex ? "1" : ""); put("case", v.case ? "1" : ""); put("sel", v.sel.join(",")); put("cam", v.cam);
    w.history.replaceState(w.history.state, "", url.pathname + url.search + url.hash);
    H.mirrored = JSON.stringify(mirrored);
  } catch (err) { /* another origin: the URL stays as it is */ }
}

// ------------------------------------------------------------------ render messages
function changed(name, value) {  // has Python sent a new value for this arg since the last render?
  const key = JSON.stringify(value === undefined ? null : value);
  if (H.lastArgs[name] === key) return false;
  H.lastArgs[name] = key; return true;
}

function onRender(args) {
  const height = args.height || 620;
  if (height !== H.height || !H.heightSent) { H.height = height; H.heightSent = true; document.body.style.height = height + "px"; Streamlit.height(height); }
  H.mirrorUrl = !!args.mirror_url;
  const id = args.data_id;
  if (id !== S.dataId) {
    let data = H.cache.get(id);
    if (!data && args.payload) {
      try { data = decodePayload(args.payload); } catch (err) { map.showError("The map could not read its data: " + err.message); return; }
      H.cache.set(id, data);
      while (H.cache.size > 3) H.cache.delete(H.cache.keys().next().value);
    }
    if (!data) {  // this iframe lacks the data (it was re-created): ask Python to send it again
      if (H.needed !== id) { H.needed = id; Streamlit.value({ seq: nextSeq(), type: "need", need: id, data_id: S.dataId, clicked: null, selection: [], action: "need", look: {} }); }
      return;
    }
    H.lastArgs = {};
    map.setData(id, data, { colorBy: args.color_by, labelBy: args.label_by, textColumn: args.text_column, look: args.look });
    H.lastArgs.look = JSON.stringify(args.look || null);
    H.lastArgs.color_by = JSON.stringify(args.color_by ?? null); H.lastArgs.label_by = JSON.stringify(args.label_by ?? null);
    changed("highlight", null); changed("selection", null);
    scheduleMirror();  // the starting look goes into the URL too (a link then opens it)
  }
  // Python's values win only when they change: the browser's own state is kept between reruns
  if (changed("color_by", args.color_by) && args.color_by !== undefined) map.setColorBy(args.color_by);
  if (changed("label_by", args.label_by) && args.label_by !== undefined) map.setLabelBy(args.label_by);
  // The page's URL holds what this map mirrored there; a rerun hands it back as the look: no change.
  const echo = args.look && H.mirrored === JSON.stringify(Object.fromEntries(Object.entries(args.look).map(([k, v]) => [k, String(v)])));
  if (changed("look", args.look || null) && !echo) map.applyLook(args.look);
  if (changed("highlight", args.highlight || [])) map.setHighlight(args.highlight || []);
  if (args.selection == null) delete H.lastArgs.selection;  // the browser's own selection: keep it
  else if (changed("selection", args.selection)) map.setSelection(args.selection);
  if (changed("focus", args.focus ?? null)) map.setFocus(args.focus);
  if (changed("annotations", args.annotations || [])) map.setAnnotations(args.annotations);
  map.refresh();
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg && msg.type === "streamlit:render") {
    try { onRender(msg.args || {}); } catch (err) { map.showError("The map failed: " + err.message); console.error(err); }
  }
});
Streamlit.ready();
