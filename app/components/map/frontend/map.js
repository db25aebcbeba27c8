// The point map: a Streamlit component (v1 protocol over postMessage) drawing points with WebGL2.
// No build step and no dependencies: this file, map.css and index.html are all it loads.
//
// Python sends a projection once per data id as one binary payload (embeddings/mapdata.py says
// the layout); after that it sends only the id and small JSON (highlight, selection). Colour,
// labels, search, hover, zoom, pan, rotate, box/lasso selection, isolate and density contours
// happen here. Python hears: a clicked point, a selection, an action, or {need: id} when this
// iframe lacks the data of an id (it was re-created).
"use strict";

// Tableau-style categorical colours (colour-blind aware): slot i is category i; slot 19 "other".
const PALETTE = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
  "#9C755F", "#499894", "#A0CBE8", "#FFBE7D", "#FF9D9A", "#86BCB6", "#8CD17D", "#F1CE63", "#D4A6C8",
  "#FABFD2", "#D7B5A6", "#9A9A9A"];
const OTHER_SLOT = 19;
const PLAIN = "#4E79A7";
const DIMMED = [200, 200, 200, 90];
const VIRIDIS = ["#440154", "#482878", "#3E4A89", "#31688E", "#26828E", "#1F9E89", "#35B779", "#6DCD59", "#B4DE2C", "#FDE725"];
const MISSING_RGB = [154, 154, 154];
const MAX_LABELS = 150;
const LABEL_TRIES = 4000;
const PICK_RADIUS = 10;
const GRID_CELLS = 256;  // picking grid (2D), per side
const MAX_TOOLTIP_COLUMNS = 8;
const NONE = "(none)";

const hexRgb = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const PALETTE_RGB = PALETTE.map(hexRgb);
const VIRIDIS_RGB = VIRIDIS.map(hexRgb);
const $ = (id) => document.getElementById(id);
const plural = (n, one, many) => `${n.toLocaleString("en-US")} ${n === 1 ? one : (many || one + "s")}`;

// ------------------------------------------------------------------ Streamlit protocol (v1)
const Streamlit = {
  send(type, data) { window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data), "*"); },
  ready() { this.send("streamlit:componentReady", { apiVersion: 1 }); },
  height(h) { this.send("streamlit:setFrameHeight", { height: h }); },
  value(v) { this.send("streamlit:setComponentValue", { value: v, dataType: "json" }); },
};

// ------------------------------------------------------------------ the payload
function decodePayload(bytes) {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "EMAP") throw new Error("not a map payload");
  const view = new DataView(buffer);
  const headLen = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 12, headLen)));
  const base = 12 + headLen;
  const sections = {};
  const types = { float32: Float32Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array };
  for (const s of header.sections) {
    if (s.dtype === "utf8") sections[s.name] = new Uint8Array(buffer, base + s.offset, s.bytes);
    else { const T = types[s.dtype]; sections[s.name] = new T(buffer, base + s.offset, s.bytes / T.BYTES_PER_ELEMENT); }
  }
  const n = header.n;
  const columns = new Map();
  for (const c of header.columns) {
    const col = Object.assign({}, c);
    if (c.type === "number") col.numbers = sections[c.name + "/numbers"];
    else {
      col.codes = sections[c.name + "/codes"];
      col.slots = sections[c.name + "/slots"];
      col.blob = sections[c.name + "/values"];
      col._values = null;
    }
    columns.set(c.name, col);
  }
  const panels = header.panels.map((p, i) => ({ dims: p.dims, title: p.title, coords: sections["coords/" + i] }));
  const rows = header.rows;  // source row of each point, or null when point i is row i
  let rowIndex = null;
  if (rows) { rowIndex = new Map(); rows.forEach((r, i) => rowIndex.set(r, i)); }
  return { n, panels, columns, rows, rowIndex, axisTitles: header.axis_titles || [] };
}

function columnValues(col) {  // the distinct strings of a category column, decoded once
  if (!col._values) col._values = col.blob.length ? new TextDecoder().decode(col.blob).split("\0") : [""];
  return col._values;
}

function cellText(col, i) {
  if (col.type === "number") {
    const v = col.numbers[i];
    return Number.isNaN(v) ? "(missing)" : String(Math.round(v * 1e6) / 1e6);
  }
  return columnValues(col)[col.codes[i]];
}

// ------------------------------------------------------------------ small matrix helpers (column-major)
function mul(a, b) {
  const o = new Float32Array(16);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
    let s = 0; for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k]; o[c * 4 + r] = s;
  }
  return o;
}
function perspective(fovy, aspect, near, far) {
  const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
}
function lookAt(eye, at, up) {
  let z = [eye[0] - at[0], eye[1] - at[1], eye[2] - at[2]]; z = norm(z);
  let x = norm(cross(up, z)); const y = cross(z, x);
  return new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
    -dot(x, eye), -dot(y, eye), -dot(z, eye), 1]);
}
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a) => { const l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; };

// ------------------------------------------------------------------ shared state
const S = {
  dataId: null, data: null, cache: new Map(),
  colorBy: null, labelBy: null, textColumn: null, searchIn: null,
  search: "", regex: false, caseSensitive: false, searchError: null,
  selected: null, selectedCount: 0,      // Uint8Array per point
  highlight: null, highlightList: [],     // from Python (neighbours): Uint8Array per point
  focus: -1,                              // the clicked / inspected point
  matches: null, matchCount: 0,           // search
  hidden: null,                           // Uint8Array: isolated in the browser (1 = hidden)
  hover: -1, mode: "pan", contours: false,
  colors: null, brightIdx: null, selectedIdx: null,
  annotations: [], mirrorUrl: false, seq: 0, lastArgs: {}, panels: [], height: 620,
  stats: { renders: 0, lastDrawMs: 0, firstDrawAt: null, dataAt: null },
};
window.__map = S;  // tests and the benchmark read state from here

// ------------------------------------------------------------------ WebGL panel
const VS = `#version 300 es
in vec3 a_pos; in vec4 a_color;
uniform mat4 u_mvp; uniform float u_size; uniform vec4 u_override;
out vec4 v_color;
void main() {
  v_color = u_override.a > 0.0 ? u_override : a_color;
  gl_PointSize = u_size;
  gl_Position = a_color.a == 0.0 ? vec4(2.0, 2.0, 2.0, 1.0) : u_mvp * vec4(a_pos, 1.0);  // hidden: clipped away
}`;
const FS = `#version 300 es
precision mediump float;
in vec4 v_color; uniform float u_ring; uniform float u_round; out vec4 o;
void main() {
  if (u_round > 0.0) { vec2 p = gl_PointCoord * 2.0 - 1.0; float r = dot(p, p);
    if (r > 1.0 || (u_ring > 0.0 && r < u_ring)) discard; }
  o = v_color; }`;

class Panel {
  constructor(index, host) {
    this.index = index;
    this.el = document.createElement("div"); this.el.className = "panel";
    this.title = document.createElement("div"); this.title.className = "title";
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("aria-label", "Point map"); this.canvas.setAttribute("role", "img");
    this.overlay = document.createElement("canvas");
    this.overlay.style.pointerEvents = "none";
    this.el.append(this.canvas, this.overlay, this.title);
    host.appendChild(this.el);
    const gl = this.canvas.getContext("webgl2", { antialias: false, preserveDrawingBuffer: true, premultipliedAlpha: false });
    if (!gl) throw new Error("WebGL2 is not available in this browser");
    this.gl = gl;
    this.ctx = this.overlay.getContext("2d");
    this.program = this.makeProgram(VS, FS);
    this.u = {};
    for (const name of ["u_mvp", "u_size", "u_override", "u_ring", "u_round"]) this.u[name] = gl.getUniformLocation(this.program, name);
    this.posBuf = gl.createBuffer(); this.colBuf = gl.createBuffer();
    this.brightBuf = gl.createBuffer(); this.selBuf = gl.createBuffer(); this.lodBuf = gl.createBuffer();
    this.vao = gl.createVertexArray();
    this.screen = null; this.screenKey = "";
    this.contourCache = null;
    this.bindEvents();
  }

  makeProgram(vs, fs) {
    const gl = this.gl;
    const compile = (type, src) => {
      const sh = gl.createShader(type); gl.shaderSource(sh, src); gl.compileShader(sh);
      if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
      return sh;
    };
    const p = gl.createProgram();
    gl.attachShader(p, compile(gl.VERTEX_SHADER, vs)); gl.attachShader(p, compile(gl.FRAGMENT_SHADER, fs));
    gl.bindAttribLocation(p, 0, "a_pos"); gl.bindAttribLocation(p, 1, "a_color");
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  setData(panel, n) {
    const gl = this.gl;
    this.n = n; this.dims = panel.dims; this.coords = panel.coords;
    this.title.textContent = panel.title || ""; this.title.hidden = !panel.title;
    gl.bindVertexArray(this.vao);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
    gl.bufferData(gl.ARRAY_BUFFER, panel.coords, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, panel.dims, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf);
    gl.bufferData(gl.ARRAY_BUFFER, n * 4, gl.DYNAMIC_DRAW);
    gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(1, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    this.lodCount = 0;
    if (n > LOD_POINTS) {  // a fixed random subset, drawn while the camera moves
      const pick = new Uint32Array(LOD_POINTS); let seed = 12345;
      for (let k = 0; k < LOD_POINTS; k++) { seed = (seed * 1103515245 + 12345) >>> 0; pick[k] = Math.floor((seed / 4294967296) * n); }
      pick.sort();
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.lodBuf);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, pick, gl.STATIC_DRAW);
      this.lodCount = LOD_POINTS;
    }
    gl.bindVertexArray(null);
    this.bounds(); this.resetCamera(); this.contourCache = null; this.grid = null;
  }

  bounds() {  // centre and half-extent of the finite coordinates
    const d = this.dims, c = this.coords, lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < this.n; i++) for (let k = 0; k < d; k++) {
      const v = c[i * d + k]; if (v < lo[k]) lo[k] = v; if (v > hi[k]) hi[k] = v;
    }
    for (let k = 0; k < 3; k++) if (!(hi[k] >= lo[k])) { lo[k] = -1; hi[k] = 1; }
    if (d === 2) { lo[2] = 0; hi[2] = 0; }
    this.lo = lo; this.hi = hi;
    this.center = [0, 1, 2].map((k) => (lo[k] + hi[k]) / 2);
    this.extent = [0, 1, 2].map((k) => Math.max(hi[k] - lo[k], 1e-9));
  }

  resetCamera() {
    if (this.dims === 2) this.cam = { x: this.center[0], y: this.center[1], zoom: 1 };
    else this.cam = { yaw: 0.6, pitch: 0.35, dist: 2.2, x: this.center[0], y: this.center[1], z: this.center[2] };
  }

  size() {
    const dpr = window.devicePixelRatio || 1, w = this.el.clientWidth, h = this.el.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      for (const c of [this.canvas, this.overlay]) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    }
    this.w = w; this.h = h; this.dpr = dpr;
  }

  matrix() {
    const w = Math.max(this.w, 1), h = Math.max(this.h, 1);
    if (this.dims === 2) {
      const base = 0.92 * Math.min(w / this.extent[0], h / this.extent[1]);
      const ppu = base * this.cam.zoom, sx = 2 * ppu / w, sy = 2 * ppu / h;
      return new Float32Array([sx, 0, 0, 0, 0, sy, 0, 0, 0, 0, 1, 0, -this.cam.x * sx, -this.cam.y * sy, 0, 1]);
    }
    const r = 0.5 * Math.hypot(...this.extent), c = this.cam, dist = r * c.dist;
    const eye = [c.x + dist * Math.cos(c.pitch) * Math.sin(c.yaw), c.y + dist * Math.sin(c.pitch), c.z + dist * Math.cos(c.pitch) * Math.cos(c.yaw)];
    const view = lookAt(eye, [c.x, c.y, c.z], [0, 1, 0]);
    return mul(perspective(Math.PI / 4, w / h, dist * 0.01 + 1e-6, dist + 4 * r), view);
  }

  camKey() { return JSON.stringify(this.cam) + this.w + "x" + this.h; }

  project(i, m) {  // screen position (CSS pixels) of point i, or null behind the camera
    const d = this.dims, c = this.coords, x = c[i * d], y = c[i * d + 1], z = d === 3 ? c[i * d + 2] : 0;
    const cw = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (cw <= 0) return null;
    const cx = (m[0] * x + m[4] * y + m[8] * z + m[12]) / cw, cy = (m[1] * x + m[5] * y + m[9] * z + m[13]) / cw;
    return [(cx * 0.5 + 0.5) * this.w, (0.5 - cy * 0.5) * this.h];
  }

  screenPositions() {  // every point's screen position, recomputed only after the camera moved
    const key = this.camKey();
    if (this.screen && this.screenKey === key) return this.screen;
    const m = this.matrix(), d = this.dims, c = this.coords, n = this.n, out = new Float32Array(2 * n);
    const w = this.w, h = this.h;
    for (let i = 0; i < n; i++) {
      const x = c[i * d], y = c[i * d + 1], z = d === 3 ? c[i * d + 2] : 0;
      const cw = m[3] * x + m[7] * y + m[11] * z + m[15];
      if (cw <= 0) { out[2 * i] = NaN; out[2 * i + 1] = NaN; continue; }
      out[2 * i] = ((m[0] * x + m[4] * y + m[8] * z + m[12]) / cw * 0.5 + 0.5) * w;
      out[2 * i + 1] = (0.5 - (m[1] * x + m[5] * y + m[9] * z + m[13]) / cw * 0.5) * h;
    }
    this.screen = out; this.screenKey = key;
    return out;
  }

  pointSize() {
    const n = this.n, base = n <= 500 ? 8 : n <= 5000 ? 5 : n <= 50000 ? 3.5 : n <= 300000 ? 2.5 : 1.6;
    return (this.dims === 3 ? base * 0.8 : base) * this.dpr;
  }

  draw() {
    const gl = this.gl;
    this.size();
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(1, 1, 1, 1); gl.clear(gl.COLOR_BUFFER_BIT);
    if (!this.n) return;
    gl.disable(gl.BLEND);  // every colour is opaque: no blending, the cheapest fill for software GL
    gl.useProgram(this.program); gl.bindVertexArray(this.vao);
    gl.uniformMatrix4fv(this.u.u_mvp, false, this.matrix());
    const size = this.pointSize();
    gl.uniform1f(this.u.u_size, size); gl.uniform4f(this.u.u_override, 0, 0, 0, 0); gl.uniform1f(this.u.u_ring, 0);
    gl.uniform1f(this.u.u_round, size >= 3 ? 1 : 0);
    this.lod = S.interacting && this.lodCount > 0;
    if (this.lod) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.lodBuf);
      gl.drawElements(gl.POINTS, this.lodCount, gl.UNSIGNED_INT, 0);
    } else gl.drawArrays(gl.POINTS, 0, this.n);
    gl.uniform1f(this.u.u_round, 1);
    if (this.brightCount) {  // bright points on top of the dimmed ones
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.brightBuf);
      gl.uniform1f(this.u.u_size, size * 1.25);
      gl.drawElements(gl.POINTS, this.brightCount, gl.UNSIGNED_INT, 0);
    }
    if (this.selCount) {  // rings around the selection
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.selBuf);
      gl.uniform1f(this.u.u_size, size + 7 * this.dpr); gl.uniform1f(this.u.u_ring, 0.55);
      gl.uniform4f(this.u.u_override, 0.07, 0.07, 0.07, 1);
      gl.drawElements(gl.POINTS, this.selCount, gl.UNSIGNED_INT, 0);
    }
    gl.bindVertexArray(null);
  }

  uploadColors(colors, bright, selected) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf); gl.bufferSubData(gl.ARRAY_BUFFER, 0, colors);
    gl.bindVertexArray(this.vao);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.brightBuf);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, bright || new Uint32Array(0), gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.selBuf);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, selected || new Uint32Array(0), gl.DYNAMIC_DRAW);
    gl.bindVertexArray(null);
    this.brightCount = bright ? bright.length : 0; this.selCount = selected ? selected.length : 0;
  }

  // ---------------------------------------------------------------- overlay: contours, labels, hover, lasso
  drawOverlay() {
    const ctx = this.ctx, dpr = this.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    if (!this.n) return;
    const m = this.matrix();
    if (S.contours && this.dims === 2) drawContours(this, ctx, m);
    drawLabels(this, ctx, m);
    if (S.hover >= 0 && !(S.hidden && S.hidden[S.hover])) {
      const p = this.project(S.hover, m);
      if (p) { ctx.strokeStyle = "#111"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(p[0], p[1], 7, 0, 2 * Math.PI); ctx.stroke(); }
    }
    if (S.focus >= 0) {
      const p = this.project(S.focus, m);
      if (p) { ctx.strokeStyle = "#111"; ctx.lineWidth = 2.5; ctx.beginPath(); ctx.rect(p[0] - 9, p[1] - 9, 18, 18); ctx.stroke(); }
    }
    if (this.drag && this.drag.path) {
      ctx.strokeStyle = "#333"; ctx.fillStyle = "rgba(80,120,200,0.12)"; ctx.lineWidth = 1; ctx.setLineDash([4, 3]);
      ctx.beginPath();
      this.drag.path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath(); ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
    }
  }

  // ---------------------------------------------------------------- mouse
  bindEvents() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => { e.preventDefault(); this.zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015)); }, { passive: false });
    c.addEventListener("pointerdown", (e) => {
      c.setPointerCapture(e.pointerId);
      const mode = e.shiftKey && S.mode === "pan" ? "box" : S.mode;
      this.drag = { x: e.offsetX, y: e.offsetY, lastX: e.offsetX, lastY: e.offsetY, mode, moved: false, add: e.shiftKey || e.metaKey || e.ctrlKey,
        pan: e.button === 2 || (e.altKey && this.dims === 3), path: mode === "pan" ? null : [[e.offsetX, e.offsetY]] };
    });
    c.addEventListener("pointermove", (e) => {
      if (!this.drag) { this.hoverAt(e.offsetX, e.offsetY, e.clientX, e.clientY); return; }
      const d = this.drag, dx = e.offsetX - d.lastX, dy = e.offsetY - d.lastY;
      if (Math.abs(e.offsetX - d.x) + Math.abs(e.offsetY - d.y) > 3) d.moved = true;
      d.lastX = e.offsetX; d.lastY = e.offsetY;
      if (d.mode === "pan") this.panBy(dx, dy, d.pan);
      else if (d.mode === "box") d.path = [[d.x, d.y], [e.offsetX, d.y], [e.offsetX, e.offsetY], [d.x, e.offsetY]];
      else d.path.push([e.offsetX, e.offsetY]);
      hideTooltip(); requestDraw();
    });
    c.addEventListener("pointerup", (e) => {
      const d = this.drag; this.drag = null;
      if (!d) return;
      if (!d.moved) { this.clickAt(e.offsetX, e.offsetY, d.add); return; }
      if (d.path && d.path.length > 2) selectInPolygon(this, d.path, d.add);
      requestDraw(); scheduleMirror();
    });
    c.addEventListener("pointerleave", () => { if (!this.drag && S.hover >= 0) { S.hover = -1; hideTooltip(); requestDraw(); } });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("dblclick", () => { this.resetCamera(); requestDraw(); scheduleMirror(); });
  }

  zoomAt(x, y, factor) {
    markInteracting();
    if (this.dims === 2) {
      const before = this.unproject2d(x, y);
      this.cam.zoom = Math.min(Math.max(this.cam.zoom * factor, 0.05), 5e4);
      const after = this.unproject2d(x, y);
      this.cam.x += before[0] - after[0]; this.cam.y += before[1] - after[1];
    } else this.cam.dist = Math.min(Math.max(this.cam.dist / factor, 0.05), 50);
    requestDraw(); scheduleMirror();
  }

  unproject2d(x, y) {
    const base = 0.92 * Math.min(this.w / this.extent[0], this.h / this.extent[1]), ppu = base * this.cam.zoom;
    return [this.cam.x + (x - this.w / 2) / ppu, this.cam.y - (y - this.h / 2) / ppu];
  }

  panBy(dx, dy, translate3d) {
    markInteracting();
    if (this.dims === 2) {
      const ppu = 0.92 * Math.min(this.w / this.extent[0], this.h / this.extent[1]) * this.cam.zoom;
      this.cam.x -= dx / ppu; this.cam.y += dy / ppu;
    } else if (translate3d) {
      const r = 0.5 * Math.hypot(...this.extent) * this.cam.dist / this.h;
      const c = this.cam, right = [Math.cos(c.yaw), 0, -Math.sin(c.yaw)];
      c.x -= right[0] * dx * r; c.z -= right[2] * dx * r; c.y += dy * r;
    } else {
      this.cam.yaw -= dx * 0.008;
      this.cam.pitch = Math.min(Math.max(this.cam.pitch + dy * 0.008, -1.5), 1.5);
    }
    scheduleMirror();
  }

  buildGrid() {  // 2D: the points bucketed on a GRID_CELLS^2 grid over their bounds, for picking
    const n = this.n, c = this.coords, G = GRID_CELLS, lo = this.lo, ex = this.extent;
    const cell = new Uint32Array(n), start = new Uint32Array(G * G + 1);
    for (let i = 0; i < n; i++) {
      const gx = Math.min(G - 1, Math.max(0, Math.floor((c[2 * i] - lo[0]) / ex[0] * G)));
      const gy = Math.min(G - 1, Math.max(0, Math.floor((c[2 * i + 1] - lo[1]) / ex[1] * G)));
      cell[i] = gy * G + gx; start[cell[i] + 1]++;
    }
    for (let k = 0; k < G * G; k++) start[k + 1] += start[k];
    const fill = start.slice(0, G * G), order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[fill[cell[i]]++] = i;
    this.grid = { start, order };
  }

  pick(x, y) {  // nearest shown point within PICK_RADIUS pixels, or -1
    if (this.dims === 2) return this.pick2d(x, y);
    const s = this.screenPositions(), hidden = S.hidden;
    let best = -1, bestD = PICK_RADIUS * PICK_RADIUS;
    for (let i = 0; i < this.n; i++) {
      const dx = s[2 * i] - x, dy = s[2 * i + 1] - y, dd = dx * dx + dy * dy;
      if (dd < bestD && !(hidden && hidden[i])) { bestD = dd; best = i; }
    }
    return best;
  }

  pick2d(x, y) {  // through the grid: only the points near the pointer are looked at
    if (!this.grid) this.buildGrid();
    const G = GRID_CELLS, lo = this.lo, ex = this.extent, c = this.coords, hidden = S.hidden;
    const ppu = 0.92 * Math.min(this.w / ex[0], this.h / ex[1]) * this.cam.zoom, r = PICK_RADIUS / ppu;
    const [dx, dy] = this.unproject2d(x, y);
    const cx0 = Math.max(0, Math.floor((dx - r - lo[0]) / ex[0] * G)), cx1 = Math.min(G - 1, Math.floor((dx + r - lo[0]) / ex[0] * G));
    const cy0 = Math.max(0, Math.floor((dy - r - lo[1]) / ex[1] * G)), cy1 = Math.min(G - 1, Math.floor((dy + r - lo[1]) / ex[1] * G));
    let best = -1, bestD = r * r;
    for (let gy = cy0; gy <= cy1; gy++) for (let gx = cx0; gx <= cx1; gx++) {
      const cellIndex = gy * G + gx;
      for (let k = this.grid.start[cellIndex]; k < this.grid.start[cellIndex + 1]; k++) {
        const i = this.grid.order[k], ddx = c[2 * i] - dx, ddy = c[2 * i + 1] - dy, dd = ddx * ddx + ddy * ddy;
        if (dd < bestD && !(hidden && hidden[i])) { bestD = dd; best = i; }
      }
    }
    return best;
  }

  hoverAt(x, y, clientX, clientY) {
    if (this.hoverPending) { this.hoverPending = [x, y, clientX, clientY]; return; }
    this.hoverPending = [x, y, clientX, clientY];
    requestAnimationFrame(() => {
      const [px, py, cx, cy] = this.hoverPending; this.hoverPending = null;
      const i = this.pick(px, py);
      if (i !== S.hover) { S.hover = i; requestDraw(); }
      if (i >= 0) showTooltip(i, cx, cy); else hideTooltip();
    });
  }

  clickAt(x, y, add) {
    const i = this.pick(x, y);
    if (i < 0) return;
    if (!add) { S.selected.fill(0); }
    S.selected[i] = add ? 1 - S.selected[i] : 1;
    S.focus = i;
    refreshColors(); requestDraw(); scheduleMirror();
    emit({ type: "click", clicked: rowOf(i) });
  }
}

// ------------------------------------------------------------------ colours, highlight, search
const rgba32 = (rgb, a = 255) => ((rgb[0] | (rgb[1] << 8) | (rgb[2] << 16) | (a << 24)) >>> 0);  // little-endian RGBA
const PLAIN32 = rgba32(hexRgb(PLAIN));
const DIMMED32 = rgba32([221, 221, 221]);
const MISSING32 = rgba32(MISSING_RGB);
const VIRIDIS_LUT = (() => {  // 256 steps of the colour scale
  const lut = new Uint32Array(256);
  for (let k = 0; k < 256; k++) {
    const f = (k / 255) * (VIRIDIS_RGB.length - 1), j = Math.min(Math.floor(f), VIRIDIS_RGB.length - 2), u = f - j;
    const a = VIRIDIS_RGB[j], b = VIRIDIS_RGB[j + 1];
    lut[k] = rgba32([0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * u)));
  }
  return lut;
})();

function baseColors(col, n) {  // one RGBA word per point for the colour column, cached per column
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
  return out;
}

function computeSearch() {
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
  if (col.type === "number") {
    const lower = !S.regex && !S.caseSensitive;
    for (let i = 0; i < n; i++) m[i] = test(lower ? cellText(col, i).toLowerCase() : cellText(col, i)) ? 1 : 0;
  }
  else {
    const lower = !S.regex && !S.caseSensitive;
    if (lower && !col._lower) col._lower = columnValues(col).map((v) => v.toLowerCase());
    const values = lower ? col._lower : columnValues(col), hit = new Uint8Array(values.length);
    for (let k = 0; k < values.length; k++) hit[k] = test(values[k]) ? 1 : 0;  // each distinct value once
    for (let i = 0; i < n; i++) m[i] = hit[col.codes[i]];
  }
  let count = 0; for (let i = 0; i < n; i++) count += m[i];
  S.matches = m; S.matchCount = count;
}

function refreshColors() {
  const data = S.data; if (!data) return;
  const n = data.n, col = S.colorBy ? data.columns.get(S.colorBy) : null;
  if (!S.colors || S.colors.length !== 4 * n) S.colors = new Uint8Array(4 * n);
  const out32 = new Uint32Array(S.colors.buffer), hidden = S.hidden, sel = S.selected;
  out32.set(baseColors(col, n));
  let selCount = 0;
  for (let i = 0; i < n; i++) selCount += sel[i];
  S.selectedCount = selCount;
  // Search wins the highlight; else the neighbours Python sent (of a clicked point or a typed
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
  for (const p of S.panels) p.uploadColors(S.colors, brightIdx, shownSel);
  renderLegend(); renderStatus(); updateButtons();
}

// ------------------------------------------------------------------ selection
function insidePolygon(x, y, poly) {
  let inside = false;
  for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
    const [xa, ya] = poly[a], [xb, yb] = poly[b];
    if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) inside = !inside;
  }
  return inside;
}

function selectInPolygon(panel, poly, add) {
  const s = panel.screenPositions(), n = panel.n, hidden = S.hidden;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  if (!add) S.selected.fill(0);
  for (let i = 0; i < n; i++) {
    const x = s[2 * i], y = s[2 * i + 1];
    if (!(x >= x0 && x <= x1 && y >= y0 && y <= y1) || (hidden && hidden[i])) continue;
    if (poly.length === 4 || insidePolygon(x, y, poly)) S.selected[i] = 1;
  }
  S.focus = -1;
  refreshColors();
  emit({ type: "select" });
}

function selectedRows() {
  const out = [], sel = S.selected;
  if (!sel) return out;
  for (let i = 0; i < sel.length; i++) if (sel[i]) out.push(rowOf(i));
  return out;
}
const rowOf = (i) => (S.data.rows ? S.data.rows[i] : i);
const indexOf = (row) => (S.data.rowIndex ? (S.data.rowIndex.has(row) ? S.data.rowIndex.get(row) : -1) : (row >= 0 && row < S.data.n ? row : -1));

// Event numbers grow across iframes too (a re-created iframe must not reuse a handled number).
function nextSeq() { S.seq = Math.max(S.seq + 1, Date.now()); return S.seq; }

function emit(event) {
  nextSeq();
  Streamlit.value(Object.assign({ seq: S.seq, data_id: S.dataId, clicked: null, selection: selectedRows(), action: null, look: viewState() }, event));
}

// ------------------------------------------------------------------ labels and contours (overlay)
function labelText(col, i) {
  const t = cellText(col, i).replace(/\s+/g, " ");
  return t.length > 40 ? t.slice(0, 39) + "\u2026" : t;
}

function* labelCandidates(n) {
  if (S.hover >= 0) yield S.hover;
  if (S.focus >= 0) yield S.focus;
  if (S.selectedIdx) for (let k = 0; k < Math.min(S.selectedIdx.length, LABEL_TRIES); k++) yield S.selectedIdx[k];
  if (S.brightIdx) { for (let k = 0; k < Math.min(S.brightIdx.length, LABEL_TRIES); k++) yield S.brightIdx[k]; return; }
  // the rest in a fixed scattered order, so the labels that fit stay put while panning
  const step = n % 7919 === 0 ? 1 : 7919;  // 7919 is prime: the walk visits every point
  for (let k = 0, i = 0; k < Math.min(n, LABEL_TRIES); k++, i = (i + step) % n) yield i;
}

function drawLabels(panel, ctx, m) {
  const col = S.labelBy ? S.data.columns.get(S.labelBy) : null;
  ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "bottom";
  const placed = [], hidden = S.hidden;
  const fits = (r) => placed.every((q) => r[0] > q[2] || r[2] < q[0] || r[1] > q[3] || r[3] < q[1]);
  if (col) {
    const seen = new Set();
    for (const i of labelCandidates(panel.n)) {
      if (placed.length >= MAX_LABELS) break;
      if (seen.has(i) || (hidden && hidden[i])) continue;
      seen.add(i);
      const p = panel.project(i, m);
      if (!p || p[0] < 0 || p[1] < 0 || p[0] > panel.w || p[1] > panel.h) continue;
      const text = labelText(col, i), w = ctx.measureText(text).width;
      const r = [p[0] - w / 2 - 2, p[1] - 20, p[0] + w / 2 + 2, p[1] - 5];
      if (!fits(r) && i !== S.hover) continue;
      placed.push(r);
      ctx.fillStyle = "rgba(255,255,255,0.8)"; ctx.fillRect(r[0], r[1], r[2] - r[0], r[3] - r[1]);
      ctx.fillStyle = "#222"; ctx.fillText(text, p[0] - w / 2, p[1] - 6);
    }
  }
  panel.labelsDrawn = placed.length;
  ctx.font = "bold 13px system-ui, sans-serif";
  for (const a of S.annotations) {
    const d = panel.dims, pt = [a.x, a.y, a.z || 0];
    const x = pt[0], y = pt[1], z = d === 3 ? pt[2] : 0, cw = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (cw <= 0) continue;
    const sx = ((m[0] * x + m[4] * y + m[8] * z + m[12]) / cw * 0.5 + 0.5) * panel.w;
    const sy = (0.5 - (m[1] * x + m[5] * y + m[9] * z + m[13]) / cw * 0.5) * panel.h;
    const w = ctx.measureText(a.text).width;
    ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(sx - w / 2 - 3, sy - 9, w + 6, 18);
    ctx.fillStyle = "#000"; ctx.textBaseline = "middle"; ctx.fillText(a.text, sx - w / 2, sy);
  }
}

const GRID = 96;
function computeContours(panel) {  // grid histogram, Gaussian blur, marching squares; in data units
  const n = panel.n, c = panel.coords, lo = panel.lo, ex = panel.extent, hidden = S.hidden;
  const pad = 0.08, x0 = lo[0] - ex[0] * pad, y0 = lo[1] - ex[1] * pad, wx = ex[0] * (1 + 2 * pad) / GRID, wy = ex[1] * (1 + 2 * pad) / GRID;
  let grid = new Float32Array(GRID * GRID);
  for (let i = 0; i < n; i++) {
    if (hidden && hidden[i]) continue;
    const gx = Math.floor((c[2 * i] - x0) / wx), gy = Math.floor((c[2 * i + 1] - y0) / wy);
    if (gx >= 0 && gy >= 0 && gx < GRID && gy < GRID) grid[gy * GRID + gx] += 1;
  }
  const sigma = 2, radius = 6, kernel = [];
  for (let k = -radius; k <= radius; k++) kernel.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
  const ksum = kernel.reduce((a, b) => a + b, 0);
  for (const horizontal of [true, false]) {
    const out = new Float32Array(GRID * GRID);
    for (let y = 0; y < GRID; y++) for (let x = 0; x < GRID; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = horizontal ? x + k : x, yy = horizontal ? y : y + k;
        if (xx >= 0 && yy >= 0 && xx < GRID && yy < GRID) s += grid[yy * GRID + xx] * kernel[k + radius];
      }
      out[y * GRID + x] = s / ksum;
    }
    grid = out;
  }
  let max = 0; for (const v of grid) max = Math.max(max, v);
  const levels = [0.08, 0.2, 0.4, 0.65].map((f) => f * max), segments = [];
  const at = (x, y) => grid[y * GRID + x];
  for (const level of levels) {
    const segs = [];
    for (let y = 0; y < GRID - 1; y++) for (let x = 0; x < GRID - 1; x++) {
      const v = [at(x, y), at(x + 1, y), at(x + 1, y + 1), at(x, y + 1)];
      const corners = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1]], cuts = [];
      for (let e = 0; e < 4; e++) {
        const a = v[e], b = v[(e + 1) % 4];
        if ((a >= level) !== (b >= level)) {
          const t = (level - a) / (b - a), p = corners[e], q = corners[(e + 1) % 4];
          cuts.push([x0 + (p[0] + (q[0] - p[0]) * t + 0.5) * wx, y0 + (p[1] + (q[1] - p[1]) * t + 0.5) * wy]);
        }
      }
      if (cuts.length >= 2) segs.push(cuts[0], cuts[1]);
      if (cuts.length === 4) segs.push(cuts[2], cuts[3]);
    }
    segments.push(segs);
  }
  return segments;
}

function drawContours(panel, ctx, m) {
  if (!panel.contourCache) panel.contourCache = computeContours(panel);
  ctx.lineWidth = 1.2;
  panel.contourCache.forEach((segs, level) => {
    ctx.strokeStyle = `rgba(40,40,60,${0.25 + 0.15 * level})`;
    ctx.beginPath();
    for (let k = 0; k < segs.length; k += 2) {
      const a = panel.project2(segs[k], m), b = panel.project2(segs[k + 1], m);
      ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]);
    }
    ctx.stroke();
  });
}
Panel.prototype.project2 = function (p, m) {
  return [((m[0] * p[0] + m[12]) * 0.5 + 0.5) * this.w, (0.5 - (m[5] * p[1] + m[13]) * 0.5) * this.h];
};

// ------------------------------------------------------------------ tooltip, legend, status
function showTooltip(i, clientX, clientY) {
  const data = S.data, tip = $("tooltip");
  const first = S.textColumn && data.columns.has(S.textColumn) ? S.textColumn : data.columns.keys().next().value;
  tip.replaceChildren();
  if (first !== undefined) {
    const b = document.createElement("b"); let t = cellText(data.columns.get(first), i);
    if (t.length > 300) t = t.slice(0, 299) + "\u2026";
    b.textContent = t; tip.append(b);
  }
  let shown = 0;
  for (const [name, col] of data.columns) {
    if (name === first || shown >= MAX_TOOLTIP_COLUMNS) continue;
    let t = cellText(col, i); if (t.length > 100) t = t.slice(0, 99) + "\u2026";
    tip.append(`\n${name}: ${t}`); shown++;
  }
  tip.append(`\nrow ${rowOf(i)}`);
  tip.hidden = false;
  const x = Math.min(clientX + 14, window.innerWidth - tip.offsetWidth - 4), y = clientY + 14 + tip.offsetHeight > window.innerHeight ? clientY - tip.offsetHeight - 8 : clientY + 14;
  tip.style.left = Math.max(0, x) + "px"; tip.style.top = Math.max(0, y) + "px";
  S.stats.tooltipAt = performance.now();
}
function hideTooltip() { $("tooltip").hidden = true; }

function renderLegend() {
  const el = $("legend"), data = S.data;
  el.replaceChildren();
  const col = S.colorBy ? data.columns.get(S.colorBy) : null;
  if (!col) { el.hidden = true; return; }
  el.hidden = false;
  const head = document.createElement("div"); head.style.fontWeight = "600"; head.textContent = S.colorBy; el.append(head);
  if (col.type === "number") {
    const bar = document.createElement("div"); bar.className = "bar";
    bar.style.background = `linear-gradient(to right, ${VIRIDIS.join(",")})`;
    const ends = document.createElement("div"); ends.className = "ends";
    const fmt = (v) => String(Math.round(v * 1000) / 1000);
    ends.append(Object.assign(document.createElement("span"), { textContent: fmt(col.min) }), Object.assign(document.createElement("span"), { textContent: fmt(col.max) }));
    el.append(bar, ends);
    if (col.missing) el.append(Object.assign(document.createElement("div"), { textContent: `${plural(col.missing, "point")} missing (grey)` }));
    return;
  }
  for (const entry of col.legend) {
    const item = document.createElement("div"); item.className = "item";
    const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = PALETTE[entry.slot];
    const name = document.createElement("span"); name.textContent = entry.name;
    const count = document.createElement("span"); count.className = "count"; count.textContent = entry.count.toLocaleString("en-US");
    item.append(sw, name, count); el.append(item);
    if (entry.slot === OTHER_SLOT && col.other.values) {
      const names = col.other.names.map(([v, c]) => `${v} (${c.toLocaleString("en-US")})`);
      const more = col.other.values - names.length;
      item.title = names.slice(0, 40).join("\n") + (col.other.values > 40 ? `\n… and ${(col.other.values - 40).toLocaleString("en-US")} more` : "");
      const details = document.createElement("details"), summary = document.createElement("summary");
      summary.textContent = `${plural(col.other.values, "value")}, ${plural(col.other.points, "point")}`;
      const list = document.createElement("div"); list.textContent = names.join(", ") + (more > 0 ? `, and ${more.toLocaleString("en-US")} more` : "");
      details.append(summary, list); el.append(details);
    }
  }
}

function renderStatus() {
  const data = S.data, el = $("status"); if (!data) return;
  let shown = data.n;
  if (S.hidden) { shown = 0; for (let i = 0; i < data.n; i++) shown += S.hidden[i] ? 0 : 1; }
  const parts = [plural(shown, "point") + (shown < data.n ? ` of ${data.n.toLocaleString("en-US")} (isolated)` : "")];
  if (data.panels[0]) parts.push(`${data.panels[0].dims}D`);
  if (S.search && !S.searchError) {
    const how = S.regex ? `regex /${S.search}/` : `“${S.search}”`;
    parts.push(`${plural(S.matchCount, "match", "matches")} for ${how}${S.caseSensitive ? " (case-sensitive)" : ""}`);
  }
  if (S.selectedCount) parts.push(`${S.selectedCount.toLocaleString("en-US")} selected`);
  el.replaceChildren(parts.join(" · "));
  if (S.searchError) { const e = document.createElement("span"); e.className = "error"; e.textContent = " · " + S.searchError; el.append(e); }
  el.dataset.points = String(shown);
  el.dataset.matches = String(S.matchCount);
}

function updateButtons() {
  $("isolate").disabled = !S.selectedCount;
  $("show-all").disabled = !S.hidden;
  $("clear").disabled = !S.selectedCount;
  const any3d = S.panels.some((p) => p.dims === 3);
  $("contours-wrap").hidden = any3d;
  $("pan-label").textContent = any3d ? "Rotate" : "Pan";
}

// ------------------------------------------------------------------ drawing
// While the camera moves, more than LOD_POINTS points are drawn as a fixed random subset of
// LOD_POINTS; all of them again SETTLE_MS after the last move.
const LOD_POINTS = 120000;
const SETTLE_MS = 180;
let settleTimer = null;
function markInteracting() {
  S.interacting = true;
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => { S.interacting = false; requestDraw(); }, SETTLE_MS);
}

let drawQueued = false;
function requestDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    const t0 = performance.now();
    for (const p of S.panels) { p.draw(); p.drawOverlay(); }
    S.stats.renders += 1; S.stats.lastDrawMs = performance.now() - t0; S.stats.drawnAt = performance.now();
    if (S.stats.firstDrawAt === null && S.data) S.stats.firstDrawAt = performance.now();
  });
}

// ------------------------------------------------------------------ the look <-> URL and the view arg
function viewState() {
  const p = S.panels[0], cam = p && p.cam ? Object.values(p.cam).map((v) => +v.toPrecision(5)).join(",") : "";
  return { color: S.colorBy || "", label: S.labelBy || "", search: S.search, regex: S.regex, case: S.caseSensitive, sel: selectedRows().slice(0, 1000), cam };
}

let mirrorTimer = null;
function scheduleMirror() {
  if (!S.mirrorUrl) return;
  clearTimeout(mirrorTimer);
  mirrorTimer = setTimeout(mirrorUrl, 250);
}
function mirrorUrl() {  // the look into the page's query string, without a rerun
  try {
    const w = window.parent, url = new URL(w.location.href), v = viewState(), q = url.searchParams;
    const mirrored = {};
    const put = (k, val) => { if (val) { q.set(k, val); mirrored[k] = String(val); } else q.delete(k); };
    put("color", v.color); put("label", v.label); put("search", v.search);
    put("regex", v.regex ? "1" : ""); put("case", v.case ? "1" : ""); put("sel", v.sel.join(",")); put("cam", v.cam);
    w.history.replaceState(w.history.state, "", url.pathname + url.search + url.hash);
    S.mirrored = JSON.stringify(mirrored);
  } catch (err) { /* another origin: the URL stays as it is */ }
}

function applyView(view) {
  if (!view) return;
  if ("color" in view) S.colorBy = S.data.columns.has(view.color) ? view.color : null;
  if ("label" in view) S.labelBy = S.data.columns.has(view.label) ? view.label : null;
  if ("search" in view) S.search = String(view.search || "");
  if ("regex" in view) S.regex = [true, 1, "1", "true"].includes(view.regex);
  if ("case" in view) S.caseSensitive = [true, 1, "1", "true"].includes(view.case);
  if (view.sel) {
    const rows = Array.isArray(view.sel) ? view.sel : String(view.sel).split(",");
    S.selected.fill(0);
    for (const r of rows) { const i = indexOf(Number(r)); if (i >= 0) S.selected[i] = 1; }
  }
  if (view.cam && S.panels[0]) {
    const values = String(view.cam).split(",").map(Number), p = S.panels[0], keys = Object.keys(p.cam);
    if (values.length === keys.length && values.every(Number.isFinite)) keys.forEach((k, j) => (p.cam[k] = values[j]));
  }
}

// ------------------------------------------------------------------ controls
function fillSelect(select, names, value, withNone) {
  select.replaceChildren();
  for (const name of withNone ? [NONE, ...names] : names) select.append(new Option(name, name));
  select.value = value == null ? (withNone ? NONE : names[0] || "") : value;
}

function syncControls() {
  const names = [...S.data.columns.keys()];
  fillSelect($("color-by"), names, S.colorBy, true);
  fillSelect($("label-by"), names, S.labelBy, true);
  fillSelect($("search-in"), names, S.searchIn, false);
  $("search").value = S.search; $("regex").checked = S.regex; $("case").checked = S.caseSensitive;
  $("contours").checked = S.contours;
}

function bindControls() {
  $("color-by").addEventListener("change", (e) => { S.colorBy = e.target.value === NONE ? null : e.target.value; refreshColors(); requestDraw(); scheduleMirror(); });
  $("label-by").addEventListener("change", (e) => { S.labelBy = e.target.value === NONE ? null : e.target.value; requestDraw(); scheduleMirror(); });
  const research = () => { computeSearch(); refreshColors(); requestDraw(); scheduleMirror(); };
  $("search").addEventListener("input", (e) => {
    S.search = e.target.value;
    if (S.search) { S.focus = -1; S.highlight = null; S.highlightList = []; }  // a typed query replaces the clicked point's highlight
    research();
  });
  $("search-in").addEventListener("change", (e) => { S.searchIn = e.target.value; research(); });
  $("regex").addEventListener("change", (e) => { S.regex = e.target.checked; research(); });
  $("case").addEventListener("change", (e) => { S.caseSensitive = e.target.checked; research(); });
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", (e) => { S.mode = e.target.value; });
  $("contours").addEventListener("change", (e) => { S.contours = e.target.checked; requestDraw(); });
  $("isolate").addEventListener("click", () => {
    S.hidden = new Uint8Array(S.data.n); for (let i = 0; i < S.data.n; i++) S.hidden[i] = S.selected[i] ? 0 : 1;
    for (const p of S.panels) p.contourCache = null;
    refreshColors(); requestDraw(); emit({ type: "action", action: "isolate" });
  });
  $("show-all").addEventListener("click", () => {
    S.hidden = null; for (const p of S.panels) p.contourCache = null;
    refreshColors(); requestDraw(); emit({ type: "action", action: "show_all" });
  });
  $("clear").addEventListener("click", () => { S.selected.fill(0); S.focus = -1; refreshColors(); requestDraw(); scheduleMirror(); emit({ type: "select" }); });
  $("reset").addEventListener("click", () => { for (const p of S.panels) p.resetCamera(); requestDraw(); scheduleMirror(); });
  new ResizeObserver(() => requestDraw()).observe($("panels"));
}

// ------------------------------------------------------------------ render messages
function setData(id, data, args) {
  S.dataId = id; S.data = data;
  const host = $("panels");
  if (S.panels.length !== data.panels.length) {
    host.replaceChildren(); S.panels = data.panels.map((_, k) => new Panel(k, host));
  }
  const across = data.panels.length <= 3 ? data.panels.length : 2;  // four go two by two
  host.style.gridTemplateColumns = `repeat(${across}, minmax(0, 1fr))`;
  S.panels.forEach((p, k) => { p.size(); p.setData(data.panels[k], data.n); });
  S.selected = new Uint8Array(data.n); S.hidden = null; S.focus = -1; S.hover = -1; S.base = null;
  S.highlight = null; S.highlightList = []; S.lastArgs = {};
  S.colorBy = args.color_by && data.columns.has(args.color_by) ? args.color_by : null;
  S.labelBy = args.label_by && data.columns.has(args.label_by) ? args.label_by : null;
  S.textColumn = args.text_column || null;
  S.searchIn = S.textColumn && data.columns.has(S.textColumn) ? S.textColumn : data.columns.keys().next().value;
  applyView(args.look);
  S.lastArgs.view = JSON.stringify(args.look || null);
  S.lastArgs.color_by = JSON.stringify(args.color_by ?? null); S.lastArgs.label_by = JSON.stringify(args.label_by ?? null);
  S.stats.dataAt = performance.now(); S.stats.firstDrawAt = null;
}

function changed(name, value) {  // has Python sent a new value for this arg since the last render?
  const key = JSON.stringify(value === undefined ? null : value);
  if (S.lastArgs[name] === key) return false;
  S.lastArgs[name] = key; return true;
}

function onRender(args) {
  const height = args.height || 620;
  if (height !== S.height || !S.heightSent) { S.height = height; S.heightSent = true; document.body.style.height = height + "px"; Streamlit.height(height); }
  S.mirrorUrl = !!args.mirror_url;
  const id = args.data_id;
  if (id !== S.dataId) {
    let data = S.cache.get(id);
    if (!data && args.payload) {
      try { data = decodePayload(args.payload); } catch (err) { $("status").textContent = "The map could not read its data: " + err.message; return; }
      S.cache.set(id, data);
      while (S.cache.size > 3) S.cache.delete(S.cache.keys().next().value);
    }
    if (!data) {  // this iframe lacks the data (it was re-created): ask Python to send it again
      if (S.needed !== id) { S.needed = id; Streamlit.value({ seq: nextSeq(), type: "need", need: id, data_id: S.dataId, clicked: null, selection: [], action: "need", look: {} }); }
      return;
    }
    setData(id, data, args);
    changed("highlight", null); changed("selection", null);
    syncControls();
    scheduleMirror();  // the starting look goes into the URL too (a link then opens it)
  }
  // Python's values win only when they change: the browser's own state is kept between reruns
  if (changed("color_by", args.color_by) && args.color_by !== undefined) { S.colorBy = S.data.columns.has(args.color_by) ? args.color_by : null; syncControls(); }
  if (changed("label_by", args.label_by) && args.label_by !== undefined) { S.labelBy = S.data.columns.has(args.label_by) ? args.label_by : null; syncControls(); }
  // The page's URL holds what this map mirrored there; a rerun hands it back as the look: no change.
  const echo = args.look && S.mirrored === JSON.stringify(Object.fromEntries(Object.entries(args.look).map(([k, v]) => [k, String(v)])));
  if (changed("view", args.look || null) && !echo) { applyView(args.look); syncControls(); }
  if (changed("highlight", args.highlight || [])) {
    S.highlightList = (args.highlight || []).map(indexOf).filter((i) => i >= 0);
    S.highlight = S.highlightList.length ? new Uint8Array(S.data.n) : null;
    for (const i of S.highlightList) S.highlight[i] = 1;
  }
  if (args.selection == null) delete S.lastArgs.selection;  // the browser's own selection: keep it
  else if (changed("selection", args.selection)) {
    S.selected.fill(0);
    for (const r of args.selection) { const i = indexOf(r); if (i >= 0) S.selected[i] = 1; }
  }
  if (changed("focus", args.focus ?? null)) S.focus = args.focus == null ? -1 : indexOf(args.focus);
  if (changed("annotations", args.annotations || [])) S.annotations = args.annotations || [];
  computeSearch(); refreshColors(); requestDraw();
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg && msg.type === "streamlit:render") {
    try { onRender(msg.args || {}); } catch (err) { $("status").textContent = "The map failed: " + err.message; console.error(err); }
  }
});
bindControls();
Streamlit.ready();
