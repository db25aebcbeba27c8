// The overlay: what is drawn on a Panel's 2D canvas over its points: density contours (2D),
// labels that have room, annotations, the hover ring, the focus square and the box/lasso being
// dragged. Reads the state and the Panel; changes nothing but the canvas and the panel's
// contour cache and label count.
import { cellText } from "./payload.js";

const MAX_LABELS = 150;
const LABEL_TRIES = 4000;
const GRID = 96;  // density grid, per side

export function drawOverlay(panel, S) {
  const ctx = panel.ctx, dpr = panel.dpr;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, panel.w, panel.h);
  if (!panel.n) return;
  const m = panel.matrix();
  if (S.contours && panel.dims === 2) drawContours(panel, S, ctx, m);
  drawLabels(panel, S, ctx, m);
  const half = panel.spriteSide ? panel.spriteSide / 2 + 4 : 0;  // points drawn as pictures: mark around the picture
  if (S.hover >= 0 && !(S.hidden && S.hidden[S.hover])) {
    const p = panel.project(S.hover, m);
    if (p) {
      ctx.strokeStyle = "#111"; ctx.lineWidth = 2; ctx.beginPath();
      if (half) ctx.rect(p[0] - half, p[1] - half, 2 * half, 2 * half); else ctx.arc(p[0], p[1], 7, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
  if (S.focus >= 0) {
    const p = panel.project(S.focus, m), f = half ? half + 3 : 9;
    if (p) { ctx.strokeStyle = "#111"; ctx.lineWidth = 2.5; ctx.beginPath(); ctx.rect(p[0] - f, p[1] - f, 2 * f, 2 * f); ctx.stroke(); }
  }
  if (panel.drag && panel.drag.path) {
    ctx.strokeStyle = "#333"; ctx.fillStyle = "rgba(80,120,200,0.12)"; ctx.lineWidth = 1; ctx.setLineDash([4, 3]);
    ctx.beginPath();
    panel.drag.path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath(); ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
  }
}

// ------------------------------------------------------------------ labels
function labelText(col, i) {
  const t = cellText(col, i).replace(/\s+/g, " ");
  return t.length > 40 ? t.slice(0, 39) + "\u2026" : t;
}

function* labelCandidates(S, n) {
  if (S.hover >= 0) yield S.hover;
  if (S.focus >= 0) yield S.focus;
  if (S.selectedIdx) for (let k = 0; k < Math.min(S.selectedIdx.length, LABEL_TRIES); k++) yield S.selectedIdx[k];
  if (S.brightIdx) { for (let k = 0; k < Math.min(S.brightIdx.length, LABEL_TRIES); k++) yield S.brightIdx[k]; return; }
  // the rest in a fixed scattered order, so the labels that fit stay put while panning
  const step = n % 7919 === 0 ? 1 : 7919;  // 7919 is prime: the walk visits every point
  for (let k = 0, i = 0; k < Math.min(n, LABEL_TRIES); k++, i = (i + step) % n) yield i;
}

// A label's box moved into the panel when it would stick out of an edge (its text stays whole).
function inside(r, panel) {
  const dx = r[0] < 0 ? -r[0] : r[2] > panel.w ? panel.w - r[2] : 0, dy = r[1] < 0 ? -r[1] : r[3] > panel.h ? panel.h - r[3] : 0;
  return [r[0] + dx, r[1] + dy, r[2] + dx, r[3] + dy];
}

const overlaps = (r, placed) => placed.some((q) => !(r[0] > q[2] || r[2] < q[0] || r[1] > q[3] || r[3] < q[1]));

// Annotations (cluster names) are placed first, as point labels are: each where it has room (at
// its place, else just above, below, left or right of it), never over another; then the point
// labels fit around them.
function placeAnnotations(panel, S, ctx, m, placed) {
  ctx.font = "bold 13px system-ui, sans-serif";
  const out = [];
  for (const a of S.annotations) {
    const d = panel.dims, x = a.x, y = a.y, z = d === 3 ? (a.z || 0) : 0, cw = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (cw <= 0) continue;
    const sx = ((m[0] * x + m[4] * y + m[8] * z + m[12]) / cw * 0.5 + 0.5) * panel.w;
    const sy = (0.5 - (m[1] * x + m[5] * y + m[9] * z + m[13]) / cw * 0.5) * panel.h;
    const w = ctx.measureText(a.text).width + 6, h = 18;
    if (sx < 0 || sy < 0 || sx > panel.w || sy > panel.h) continue;  // its cluster is out of view
    for (const [dx, dy] of [[0, 0], [0, -h - 2], [0, h + 2], [-w / 2 - 4, 0], [w / 2 + 4, 0], [0, -2 * h - 4], [0, 2 * h + 4]]) {
      const r = inside([sx + dx - w / 2, sy + dy - h / 2, sx + dx + w / 2, sy + dy + h / 2], panel);
      if (overlaps(r, placed)) continue;
      placed.push(r); out.push({ text: a.text, rect: r });
      break;
    }
  }
  return out;
}

function drawLabels(panel, S, ctx, m) {
  const col = S.labelBy ? S.data.columns.get(S.labelBy) : null;
  const placed = [], hidden = S.hidden;
  const names = placeAnnotations(panel, S, ctx, m, placed);
  ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "bottom";
  let labels = 0;
  if (col) {
    const seen = new Set();
    for (const i of labelCandidates(S, panel.n)) {
      if (labels >= MAX_LABELS) break;
      if (seen.has(i) || (hidden && hidden[i])) continue;
      seen.add(i);
      const p = panel.project(i, m);
      if (!p || p[0] < 0 || p[1] < 0 || p[0] > panel.w || p[1] > panel.h) continue;
      const text = labelText(col, i), w = ctx.measureText(text).width;
      const r = inside([p[0] - w / 2 - 2, p[1] - 20, p[0] + w / 2 + 2, p[1] - 5], panel);
      if (overlaps(r, placed) && i !== S.hover) continue;
      placed.push(r); labels++;
      ctx.fillStyle = "rgba(255,255,255,0.8)"; ctx.fillRect(r[0], r[1], r[2] - r[0], r[3] - r[1]);
      ctx.fillStyle = "#222"; ctx.fillText(text, r[0] + 2, r[3] - 1);
    }
  }
  panel.labelsDrawn = labels;
  panel.annotationsDrawn = names.map((a) => ({ text: a.text, rect: a.rect.slice() }));  // tests read where names went
  ctx.font = "bold 13px system-ui, sans-serif"; ctx.textBaseline = "middle";
  for (const { text, rect } of names) {
    ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1]);
    ctx.fillStyle = "#000"; ctx.fillText(text, rect[0] + 3, (rect[1] + rect[3]) / 2);
  }
}

// ------------------------------------------------------------------ density contours
function computeContours(panel, S) {  // grid histogram, Gaussian blur, marching squares; in data units
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

function drawContours(panel, S, ctx, m) {
  if (!panel.contourCache) panel.contourCache = computeContours(panel, S);
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
