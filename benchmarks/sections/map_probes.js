// What the benchmark runs inside the point map's iframe (its state: window.__map, see
// app/components/map/). One object of probes; Python calls one of them with
// probe("map_probes.js", "change") (benchmarks/sections/probes.py), which evaluates
// `(arg) => (<this object>).change(arg)` in the frame. Times are measured here, in the page.
({
  // A fingerprint of the first panel's pixels (its canvas keeps its buffer).
  hash() {
    const p = window.__map.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
    const px = new Uint8Array(w * h * 4); gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let hash = 0; for (let i = 0; i < px.length; i += 4) hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
    return hash;
  },

  // Change a control as a user does (value + the input/change event), then wait, frame by frame, for the
  // canvas pixels to differ: milliseconds from the event to the changed pixels.
  async change([id, value, type]) {
    const before = this.hash(), el = document.getElementById(id), t0 = performance.now();
    if (el.type === 'checkbox') el.checked = value; else el.value = value;
    el.dispatchEvent(new Event(type, {bubbles: true}));
    for (let k = 0; k < 600; k++) {
      await new Promise(r => requestAnimationFrame(r));
      if (this.hash() !== before) return performance.now() - t0;
    }
    return null;
  },

  // Hover: a pointer move onto point i, to its tooltip on screen (ms); `fresh` first moves the camera
  // a little, so the screen positions of all points are recomputed (the worst case).
  async hover([i, fresh]) {
    const S = window.__map, p = S.panels[0], tip = document.getElementById('tooltip');
    if (fresh) { p.cam.zoom *= 1.0001; requestDraw(); await new Promise(r => requestAnimationFrame(r)); }
    S.hover = -1; tip.hidden = true;
    const m = p.matrix(), xy = p.project(i, m), r = p.canvas.getBoundingClientRect();
    const t0 = performance.now();
    p.canvas.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + xy[0], clientY: r.top + xy[1], bubbles: true}));
    for (let k = 0; k < 600; k++) {
      await new Promise(r => requestAnimationFrame(r));
      if (!tip.hidden && S.hover >= 0) return {ms: performance.now() - t0, text: tip.querySelector('b').textContent};
    }
    return null;
  },

  // Pan and zoom: `frames` camera moves, each drawn and read back (readPixels forces the software GL
  // to finish the frame), as fast as it goes: frames per second.
  fps(frames) {
    const p = window.__map.panels[0], gl = p.gl, one = new Uint8Array(4), t0 = performance.now();
    for (let k = 0; k < frames; k++) {
      if (k % 2) p.panBy(7, 3); else p.zoomAt(p.w / 2, p.h / 2, k % 4 ? 1.05 : 0.95);
      p.draw(); p.drawOverlay(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, one);
    }
    const fps = frames / ((performance.now() - t0) / 1000), subset = p.lod;
    window.__map.interacting = false;
    const t1 = performance.now();
    p.draw(); p.drawOverlay(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, one);
    return {fps, subset, settle: (performance.now() - t1) / 1000};
  },

  // Zoom: a wheel step over the middle of the map, to its changed pixels (ms).
  async zoom() {
    const p = window.__map.panels[0], r = p.canvas.getBoundingClientRect();
    const before = this.hash(), t0 = performance.now();
    p.canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
    for (let k = 0; k < 600; k++) { await new Promise(r => requestAnimationFrame(r)); if (this.hash() !== before) return performance.now() - t0; }
    return null;
  },

  // Whether the map has drawn its first frame.
  drawn() {
    return !!(window.__map && window.__map.stats.firstDrawAt !== null);
  },

  // When the first frame was drawn, in epoch milliseconds.
  firstDrawAt() {
    return performance.timeOrigin + window.__map.stats.firstDrawAt;
  },

  // How many points the map holds.
  points() {
    return window.__map.data.n;
  },

  // The JS heap in use (MiB), where the browser reports it.
  heapMib() {
    return performance.memory ? performance.memory.usedJSHeapSize / 2**20 : null;
  },

  // The WebGL renderer's name (software or a GPU).
  renderer() {
    const gl = window.__map.panels[0].gl, e = gl.getExtension('WEBGL_debug_renderer_info');
    return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  },

  // A layout forming (the live section): layouts drawn so far, the points held and the live bar's
  // state (null once the layout is done); null before the map has data.
  liveState() {
    const S = window.__map;
    if (!S || !S.data) return null;
    const L = S.live;
    return {layouts: S.stats.layouts, n: S.data.n,
            live: L ? {state: L.state, iteration: L.iteration, total: L.total, seq: L.seq} : null};
  },

  // The first panel's coordinates as drawn (x, y, x, y, ...).
  coords() {
    return Array.from(window.__map.panels[0].coords);
  },
})
