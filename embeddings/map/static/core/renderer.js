// The renderer: one Panel per projection shown side by side, each a WebGL2 canvas (points) with
// a 2D canvas over it (overlay.js draws there). A Panel owns its GPU buffers, its camera (2D pan
// and zoom, 3D orbit) and the projection from data to screen; what to draw comes from the state.
import { lookAt, mul, perspective } from "./matrix.js";
import { drawOverlay } from "./overlay.js";
import { Sprites } from "./sprites.js";

// While the camera moves, more than LOD_POINTS points are drawn as a fixed random subset of
// LOD_POINTS (all of them again once it settles: map.js).
export const LOD_POINTS = 120000;

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

export class Panel {
  // map: the controller (map.js): its state, and what a camera move tells it (markInteracting, lookChanged).
  constructor(index, host, map) {
    this.index = index; this.map = map; this.S = map.state;
    const doc = host.ownerDocument;
    this.el = doc.createElement("div"); this.el.className = "panel";
    this.title = doc.createElement("div"); this.title.className = "title";
    this.canvas = doc.createElement("canvas");
    this.canvas.setAttribute("aria-label", "Point map"); this.canvas.setAttribute("role", "img");
    this.overlay = doc.createElement("canvas");
    this.overlay.style.pointerEvents = "none";
    this.el.append(this.canvas, this.overlay, this.title);
    host.appendChild(this.el);
    // An opaque canvas (every colour and the background are opaque): the compositor copies it
    // as it is instead of blending it with the page, which in software WebGL is a pass over every
    // pixel at each draw. 31 -> 25 ms of Chromium's CPU per new layout at 10k points (a layout
    // forming draws 5-7 of them a second on the cores that compute it).
    const gl = this.canvas.getContext("webgl2", { alpha: false, antialias: false, preserveDrawingBuffer: true });
    if (!gl) throw new Error("WebGL2 is not available in this browser");
    this.gl = gl;
    this.ctx = this.overlay.getContext("2d");
    this.program = this.makeProgram(VS, FS);
    this.u = {};
    for (const name of ["u_mvp", "u_size", "u_override", "u_ring", "u_round"]) this.u[name] = gl.getUniformLocation(this.program, name);
    this.posBuf = gl.createBuffer(); this.colBuf = gl.createBuffer();
    this.brightBuf = gl.createBuffer(); this.selBuf = gl.createBuffer(); this.lodBuf = gl.createBuffer();
    this.orderBuf = gl.createBuffer(); this.orderCount = 0;
    this.vao = gl.createVertexArray();
    this.screen = null; this.screenKey = "";
    this.contourCache = null;
    this.sprites = new Sprites(this); this.spriteSide = 0;  // zoomed in, images are drawn as themselves
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
    this.sprites.reset(); this.spriteSide = 0;
  }

  // New coordinates for the same points (another layout of them, or one still forming). The
  // camera keeps its place relative to the layout's extent: a view fitted to the layout stays
  // fitted while it grows, and one zoomed into a corner stays on that corner.
  setCoords(panel) {
    if (panel.dims !== this.dims || panel.coords.length !== this.n * this.dims) { this.setData(panel, this.n); return; }
    const gl = this.gl, c = this.cam, k = this.dims === 2 ? [0, 1] : [0, 1, 2];
    const at = k.map((i) => (c["xyz"[i]] - this.center[i]) / this.extent[i]);
    this.coords = panel.coords;
    if (panel.title !== undefined && panel.title !== "") { this.title.textContent = panel.title; this.title.hidden = false; }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, panel.coords);
    this.bounds();
    k.forEach((i, j) => { c["xyz"[i]] = this.center[i] + at[j] * this.extent[i]; });
    this.screen = null; this.contourCache = null; this.grid = null;
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

  pixelsPerUnit() {  // 2D: screen pixels per data unit at the current zoom
    return 0.92 * Math.min(this.w / this.extent[0], this.h / this.extent[1]) * this.cam.zoom;
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

  project2(p, m) {  // 2D: screen position of a data-space point [x, y]
    return [((m[0] * p[0] + m[12]) * 0.5 + 0.5) * this.w, (0.5 - (m[5] * p[1] + m[13]) * 0.5) * this.h];
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
    gl.bindVertexArray(this.vao);
    this.lod = this.S.interacting && this.lodCount > 0;
    if (this.sprites.draw(this.lod)) { gl.bindVertexArray(null); return; }
    gl.useProgram(this.program);
    gl.uniformMatrix4fv(this.u.u_mvp, false, this.matrix());
    const size = this.pointSize();
    gl.uniform1f(this.u.u_size, size); gl.uniform4f(this.u.u_override, 0, 0, 0, 0); gl.uniform1f(this.u.u_ring, 0);
    gl.uniform1f(this.u.u_round, size >= 3 ? 1 : 0);
    if (this.lod) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.lodBuf);
      gl.drawElements(gl.POINTS, this.lodCount, gl.UNSIGNED_INT, 0);
    } else if (this.orderCount) {  // muted points first, the others over them
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.orderBuf);
      gl.drawElements(gl.POINTS, this.orderCount, gl.UNSIGNED_INT, 0);
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

  drawOverlay() { drawOverlay(this, this.S); }

  uploadColors(colors, bright, selected, order = null) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf); gl.bufferSubData(gl.ARRAY_BUFFER, 0, colors);
    gl.bindVertexArray(this.vao);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.brightBuf);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, bright || new Uint32Array(0), gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.selBuf);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, selected || new Uint32Array(0), gl.DYNAMIC_DRAW);
    if (order !== this.order) {  // uploaded again only when the colour column's order changes
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.orderBuf);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, order || new Uint32Array(0), gl.STATIC_DRAW);
      this.order = order; this.orderCount = order ? order.length : 0;
    }
    gl.bindVertexArray(null);
    this.brightCount = bright ? bright.length : 0; this.selCount = selected ? selected.length : 0;
  }

  // ---------------------------------------------------------------- camera moves
  zoomAt(x, y, factor) {
    this.map.markInteracting();
    if (this.dims === 2) {
      const before = this.unproject2d(x, y);
      this.cam.zoom = Math.min(Math.max(this.cam.zoom * factor, 0.05), 5e4);
      const after = this.unproject2d(x, y);
      this.cam.x += before[0] - after[0]; this.cam.y += before[1] - after[1];
    } else this.cam.dist = Math.min(Math.max(this.cam.dist / factor, 0.05), 50);
    this.map.requestDraw(); this.map.lookChanged(["cam"]);
  }

  unproject2d(x, y) {
    const ppu = this.pixelsPerUnit();
    return [this.cam.x + (x - this.w / 2) / ppu, this.cam.y - (y - this.h / 2) / ppu];
  }

  panBy(dx, dy, translate3d) {
    this.map.markInteracting();
    if (this.dims === 2) {
      const ppu = this.pixelsPerUnit();
      this.cam.x -= dx / ppu; this.cam.y += dy / ppu;
    } else if (translate3d) {
      const r = 0.5 * Math.hypot(...this.extent) * this.cam.dist / this.h;
      const c = this.cam, right = [Math.cos(c.yaw), 0, -Math.sin(c.yaw)];
      c.x -= right[0] * dx * r; c.z -= right[2] * dx * r; c.y += dy * r;
    } else {
      this.cam.yaw -= dx * 0.008;
      this.cam.pitch = Math.min(Math.max(this.cam.pitch + dy * 0.008, -1.5), 1.5);
    }
    this.map.lookChanged(["cam"]);
  }

  release() {  // the GPU memory back now, not when the page goes (a notebook re-renders its outputs)
    const lose = this.gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  }
}
