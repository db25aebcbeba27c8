// The Streamlit host: the map as a bidirectional Streamlit component (the v1 protocol over
// postMessage; app/components/map/__init__.py is the Python side). Owns what is Streamlit's:
// render arguments, the payload cache per data id and "need" (this iframe lacks the data of an
// id: it was re-created; asked again until the data comes), the component value (events, with a
// sequence number) and the frame height.
//
// A new layout of the points held comes as coordinates only (`coords` on `base_id`), and while a
// UMAP or t-SNE layout forms (`live`: the address of its frames on the app's own server, behind the
// same access token) the frames are fetched one after another, each asked for once the one before
// is drawn, and Pause / Resume / Stop are sent there: no rerun of the page until the layout is
// done or stopped.
//
// A map's look may have one owner, Python (app/look.py, given as look_rev): this host tells it every change made in the map
// (only the keys that changed, in one event a moment after the last change, or at once with a
// click or selection), and takes the owner's look when its revision (look_rev) grows, except
// the keys changed here that the owner has not heard yet (look_seq: the last event it took).
import { createMap } from "../core/map.js";
import { LOOK_KEYS, lookOf } from "../core/look.js";
import { decodePayload } from "../core/payload.js";

const Streamlit = {
  send(type, data) { window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data), "*"); },
  ready() { this.send("streamlit:componentReady", { apiVersion: 1 }); },
  height(h) { this.send("streamlit:setFrameHeight", { height: h }); },
  value(v) { this.send("streamlit:setComponentValue", { value: v, dataType: "json" }); },
};

const LOOK_DELAY_MS = 300;  // changes made in the map reach the owner this long after the last one
const NEED_AGAIN_MS = 2000;  // the data of an id asked for again after this long without it
const H = { cache: new Map(), lastArgs: {}, seq: 0, height: 620, heightSent: false, needed: null, neededAt: 0,
  needTimer: null, lookRev: -1, frame: null, pending: new Set(), reported: {}, lookTimer: null, args: {} };
const map = createMap(document.getElementById("root"), { ids: true, onEvent: emit, onLook: lookChanged });
const S = map.state;
window.__map = S;  // tests and the benchmark read the state here ...
window.requestDraw = map.requestDraw;  // ... and redraw after moving a camera themselves

// Event numbers grow across iframes too (a re-created iframe must not reuse a handled number).
function nextSeq() { H.seq = Math.max(H.seq + 1, Date.now()); return H.seq; }

// ------------------------------------------------------------------ the look, to its owner
function lookChanged(keys) {
  if (H.args.look_rev == null) return;  // a map whose look has no owner keeps it in the browser: no rerun
  for (const k of keys || LOOK_KEYS) H.pending.add(k);
  clearTimeout(H.lookTimer);
  H.lookTimer = setTimeout(() => send({ type: "look" }), LOOK_DELAY_MS);
}

function send(event) {  // one event, with the look's keys changed since the last one
  clearTimeout(H.lookTimer);
  const changes = {};
  if (S.data && H.pending.size) {
    const look = lookOf(S);
    for (const k of H.pending) changes[k] = look[k];
  }
  if (event.type === "look" && !Object.keys(changes).length) return;
  const seq = nextSeq();
  for (const k of Object.keys(changes)) H.reported[k] = seq;
  H.pending.clear();
  Streamlit.value(Object.assign({ seq, data_id: S.dataId, clicked: null, action: null, changes }, event));
}

// What a person did that Python acts on: a click (neighbours), a selection, an action; the
// selection travels whole with them (other maps read it from there).
function emit(event) {
  if (event.type === "live") { control(event.action); return; }  // the live route's business, not Python's script
  send(Object.assign({ selection: map.selectedRows() }, event));
}

// The owner's look, less the keys changed here that it has not taken yet.
function ownersLook(args) {
  const look = Object.assign({}, args.look || {}), heard = args.look_seq || 0;
  for (const k of Object.keys(look)) if (H.pending.has(k) || (H.reported[k] || 0) > heard) delete look[k];
  return look;
}

// ------------------------------------------------------------------ data
function askFor(id) {  // this iframe lacks the data of `id`: ask Python to send it (again, if it does not come)
  if (H.needed === id && Date.now() - H.neededAt < NEED_AGAIN_MS) return;
  H.needed = id; H.neededAt = Date.now();
  Streamlit.value({ seq: nextSeq(), type: "need", need: id, data_id: S.dataId, clicked: null, action: null, changes: {} });
  clearTimeout(H.needTimer);
  H.needTimer = setTimeout(() => { if (S.dataId !== id && H.args.data_id === id) askFor(id); }, NEED_AGAIN_MS + 100);
}

function showData(id, data, args) {
  const fresh = !S.data, sameFrame = !fresh && args.frame_id != null && args.frame_id === H.frame;
  let look;
  if (fresh) look = args.look || null;
  else {  // the look on screen carries over to the new layout of the same points; the camera only within one
    // frame (a new layout's camera starts over, and its owner forgets the old one: app/look.py for_frame)
    look = lookOf(S);
    if (!sameFrame) delete look.cam;
    if ((args.look_rev ?? -1) > H.lookRev) Object.assign(look, ownersLook(args));
    for (const k of ["color", "label"]) if (look[k] && !data.columns.has(look[k])) delete look[k];  // the map's default then
  }
  H.lastArgs = {};
  map.setData(id, data, { colorBy: args.color_by, labelBy: args.label_by, textColumn: args.text_column, look });
  H.lastArgs.color_by = JSON.stringify(args.color_by ?? null); H.lastArgs.label_by = JSON.stringify(args.label_by ?? null);
  changed("highlight", null); changed("selection", null);
  H.lookRev = args.look_rev ?? -1; H.frame = args.frame_id ?? null;
}

// ------------------------------------------------------------------ a layout forming
const OVER = ["done", "failed", "cancelled"];
// At most this often a frame is asked for (about 6.7 a second; issue 20 asks for at least 5):
// the browser draws on the cores the server computes on, and each new layout costs it some 30-70
// ms of CPU at 10k points in software WebGL, so more would slow the layout it shows.
const FRAME_MS = 150;
const L = { url: null, seq: 0, status: "", told: "", abort: null };
// What the page shows depends on whether the layout is forming, stopped (the layout reached is
// the page's layout) or over (the finished one): a change of that reruns the page, nothing else.
const stage = (state) => (OVER.includes(state) ? "over" : state === "stopped" ? "stopped" : "forming");

function follow(live) {  // args.live: {url, seq, method, total, state} while a layout forms, else null
  const url = live ? live.url : null;
  if (url === L.url) return;
  if (L.abort) L.abort.abort();
  Object.assign(L, { url, seq: live ? live.seq || 0 : 0, status: "", told: live ? stage(live.state) : "", abort: url ? new AbortController() : null });
  map.setLive(live ? { method: live.method, iteration: live.iteration || 0, total: live.total || 0, state: live.state, wanted: null } : null);
  if (url) poll(url, L.abort.signal);
}

async function poll(url, signal) {
  let failures = 0, asked = 0;
  while (L.url === url) {
    const wait = asked + FRAME_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    asked = performance.now();
    let data;
    try {
      const response = await fetch(`${url}?after=${L.seq}&status=${encodeURIComponent(L.status)}`, { signal, cache: "no-store", credentials: "same-origin" });
      if (response.status === 404) { map.setLive(Object.assign({}, S.live, { state: "lost" })); return; }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = decodePayload(new Uint8Array(await response.arrayBuffer()));
      failures = 0;
    } catch (err) {
      if (signal.aborted) return;
      if (++failures > 20) { map.setLive(Object.assign({}, S.live, { state: "lost" })); return; }
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    if (L.url !== url) return;
    const live = data.live;
    if (data.panels.length && live.seq > L.seq && map.setLayout(S.dataId, data.panels)) L.seq = live.seq;
    L.status = `${live.state}|${live.wanted || ""}`;
    map.setLive(live);
    await new Promise((resolve) => requestAnimationFrame(resolve));  // drawn before the next is asked for
    // Done, stopped, or going on after a stop: the page reruns (Python reads the layout from the run).
    if (stage(live.state) !== L.told) { L.told = stage(live.state); emit({ type: "layout", action: live.state }); }
    if (OVER.includes(live.state)) return;
  }
}

function control(action) {  // Pause / Resume / Stop: to the run; the next frame says what it did
  if (!L.url) return;
  fetch(`${L.url}/${action}`, { method: "POST", cache: "no-store", credentials: "same-origin" }).catch(() => {});
}

// A new layout of the points held: only its coordinates came. The look stays as it is (the
// camera relative to the layout's extent); false when they do not fit the points held.
function showLayout(id, args) {
  let layout;
  try { layout = decodePayload(args.coords); } catch (err) { map.showError("The map could not read its data: " + err.message); return true; }
  if (S.dataId !== args.base_id) showData(args.base_id, H.cache.get(args.base_id), args);
  const newer = args.live && args.live.url === L.url && (args.live.seq || 0) < L.seq;  // the browser has a later frame
  if (newer) S.dataId = id;
  else if (!map.setLayout(id, layout.panels, layout.axisTitles)) return false;
  if ((args.look_rev ?? -1) > H.lookRev) map.applyLook(ownersLook(args));
  H.lookRev = args.look_rev ?? -1; H.frame = args.frame_id ?? null;
  H.cache.set(id, S.data);
  while (H.cache.size > 3) H.cache.delete(H.cache.keys().next().value);
  return true;
}

// ------------------------------------------------------------------ render messages
function changed(name, value) {  // has Python sent a new value for this arg since the last render?
  const key = JSON.stringify(value === undefined ? null : value);
  if (H.lastArgs[name] === key) return false;
  H.lastArgs[name] = key; return true;
}

function onRender(args) {
  H.args = args;
  const height = args.height || 620;
  if (height !== H.height || !H.heightSent) { H.height = height; H.heightSent = true; document.body.style.height = height + "px"; Streamlit.height(height); }
  S.canReproject = !!args.can_reproject;
  const id = args.data_id;
  if (id !== S.dataId && !H.cache.has(id) && args.coords && (H.cache.has(args.base_id) || S.dataId === args.base_id)) {
    if (!showLayout(id, args)) { H.cache.delete(args.base_id); return onRender(Object.assign({}, args, { coords: null, base_id: null })); }
  }
  if (id !== S.dataId) {
    let data = H.cache.get(id);
    if (!data && args.payload) {
      try { data = decodePayload(args.payload); } catch (err) { map.showError("The map could not read its data: " + err.message); return; }
      H.cache.set(id, data);
      while (H.cache.size > 3) H.cache.delete(H.cache.keys().next().value);
    }
    if (!data) { askFor(id); return; }
    showData(id, data, args);
  } else if ((args.look_rev ?? -1) > H.lookRev) {  // the owner changed the look itself
    map.applyLook(ownersLook(args));
    H.lookRev = args.look_rev;
  }
  // The other maps' own values (no owned look): they win only when they change
  if (changed("color_by", args.color_by) && args.color_by !== undefined) map.setColorBy(args.color_by);
  if (changed("label_by", args.label_by) && args.label_by !== undefined) map.setLabelBy(args.label_by);
  if (changed("highlight", args.highlight || [])) map.setHighlight(args.highlight || []);
  if (args.selection == null) delete H.lastArgs.selection;  // the browser's own selection: keep it
  else if (changed("selection", args.selection)) map.setSelection(args.selection);
  if (changed("focus", args.focus ?? null)) map.setFocus(args.focus);
  if (changed("annotations", args.annotations || [])) map.setAnnotations(args.annotations);
  follow(args.live || null);
  map.refresh();
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg && msg.type === "streamlit:render") {
    try { onRender(msg.args || {}); } catch (err) { map.showError("The map failed: " + err.message); console.error(err); }
  }
});
Streamlit.ready();
