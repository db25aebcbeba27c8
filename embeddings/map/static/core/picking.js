// Picking: which point is under the pointer (2D through a grid of the points, 3D through their
// screen positions) and which points a box or lasso encloses. Reads a Panel's geometry and the
// state's hidden points; changes nothing.

const PICK_RADIUS = 10;  // pixels
const GRID_CELLS = 256;  // picking grid (2D), per side

function buildGrid(panel) {  // 2D: the points bucketed on a GRID_CELLS^2 grid over their bounds
  const n = panel.n, c = panel.coords, G = GRID_CELLS, lo = panel.lo, ex = panel.extent;
  const cell = new Uint32Array(n), start = new Uint32Array(G * G + 1);
  for (let i = 0; i < n; i++) {
    const gx = Math.min(G - 1, Math.max(0, Math.floor((c[2 * i] - lo[0]) / ex[0] * G)));
    const gy = Math.min(G - 1, Math.max(0, Math.floor((c[2 * i + 1] - lo[1]) / ex[1] * G)));
    cell[i] = gy * G + gx; start[cell[i] + 1]++;
  }
  for (let k = 0; k < G * G; k++) start[k + 1] += start[k];
  const fill = start.slice(0, G * G), order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[fill[cell[i]]++] = i;
  panel.grid = { start, order };  // the panel drops it when its data changes
}

export function pick(panel, hidden, x, y) {  // nearest shown point within PICK_RADIUS pixels, or -1
  if (panel.spriteSide) return pickPicture(panel, hidden, x, y);
  if (panel.dims === 2) return pick2d(panel, hidden, x, y);
  const s = panel.screenPositions();
  let best = -1, bestD = PICK_RADIUS * PICK_RADIUS;
  for (let i = 0; i < panel.n; i++) {
    const dx = s[2 * i] - x, dy = s[2 * i + 1] - y, dd = dx * dx + dy * dy;
    if (dd < bestD && !(hidden && hidden[i])) { bestD = dd; best = i; }
  }
  return best;
}

function pick2d(panel, hidden, x, y) {  // through the grid: only the points near the pointer are looked at
  if (!panel.grid) buildGrid(panel);
  const G = GRID_CELLS, lo = panel.lo, ex = panel.extent, c = panel.coords, grid = panel.grid;
  const r = PICK_RADIUS / panel.pixelsPerUnit();
  const [dx, dy] = panel.unproject2d(x, y);
  const cx0 = Math.max(0, Math.floor((dx - r - lo[0]) / ex[0] * G)), cx1 = Math.min(G - 1, Math.floor((dx + r - lo[0]) / ex[0] * G));
  const cy0 = Math.max(0, Math.floor((dy - r - lo[1]) / ex[1] * G)), cy1 = Math.min(G - 1, Math.floor((dy + r - lo[1]) / ex[1] * G));
  let best = -1, bestD = r * r;
  for (let gy = cy0; gy <= cy1; gy++) for (let gx = cx0; gx <= cx1; gx++) {
    const cellIndex = gy * G + gx;
    for (let k = grid.start[cellIndex]; k < grid.start[cellIndex + 1]; k++) {
      const i = grid.order[k], ddx = c[2 * i] - dx, ddy = c[2 * i + 1] - dy, dd = ddx * ddx + ddy * ddy;
      if (dd < bestD && !(hidden && hidden[i])) { bestD = dd; best = i; }
    }
  }
  return best;
}

// Points drawn as pictures: the picture on top under the pointer, as a person sees it: a lit one
// over the dimmed, then in 3D the nearest (pictures are drawn larger the nearer they are), in 2D
// the one drawn last; or -1.
function pickPicture(panel, hidden, x, y) {
  const s = panel.screenPositions(), S = panel.S, lit = S.matches || S.highlight, d = panel.dims, c = panel.coords;
  const m = panel.matrix(), ref = d === 3 ? 0.5 * Math.hypot(...panel.extent) * panel.cam.dist : 0;
  let best = -1, bestLit = false, bestDepth = Infinity;
  for (let i = 0; i < panel.n; i++) {
    if (hidden && hidden[i]) continue;
    const depth = d === 3 ? m[3] * c[3 * i] + m[7] * c[3 * i + 1] + m[11] * c[3 * i + 2] + m[15] : 0;
    const half = panel.spriteSide / 2 * (d === 3 ? ref / Math.max(depth, 1e-6) : 1);
    if (Math.abs(s[2 * i] - x) > half || Math.abs(s[2 * i + 1] - y) > half) continue;
    const isLit = !!(lit && lit[i]);
    if (bestLit && !isLit) continue;
    if ((isLit && !bestLit) || depth <= bestDepth) { best = i; bestLit = isLit; bestDepth = depth; }
  }
  return best;
}

function insidePolygon(x, y, poly) {
  let inside = false;
  for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
    const [xa, ya] = poly[a], [xb, yb] = poly[b];
    if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) inside = !inside;
  }
  return inside;
}

// Marks in `out` (a Uint8Array per point) the shown points inside `poly` (screen pixels; four
// corners: a box).
export function markInPolygon(panel, hidden, poly, out) {
  const s = panel.screenPositions(), n = panel.n;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  for (let i = 0; i < n; i++) {
    const x = s[2 * i], y = s[2 * i + 1];
    if (!(x >= x0 && x <= x1 && y >= y0 && y <= y1) || (hidden && hidden[i])) continue;
    if (poly.length === 4 || insidePolygon(x, y, poly)) out[i] = 1;
  }
}
