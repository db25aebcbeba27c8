// Colours: the categorical palette (slot i is category i, slot 19 "other", slot 20 the muted
// values such as a cluster column's noise: embeddings/mapdata.py MUTED_SLOT), the numeric scale,
// and point colours as one little-endian RGBA word per point. Owns every colour the map draws.

// Tableau-style categorical colours (colour-blind aware).
export const PALETTE = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
  "#9C755F", "#499894", "#A0CBE8", "#FFBE7D", "#FF9D9A", "#86BCB6", "#8CD17D", "#F1CE63", "#D4A6C8",
  "#FABFD2", "#D7B5A6", "#9A9A9A", "#C8C8C8"];
export const OTHER_SLOT = 19;
export const MUTED_SLOT = 20;
export const VIRIDIS = ["#440154", "#482878", "#3E4A89", "#31688E", "#26828E", "#1F9E89", "#35B779", "#6DCD59", "#B4DE2C", "#FDE725"];
const PLAIN = "#4E79A7";
const MISSING_RGB = [154, 154, 154];

export const hexRgb = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
export const rgba32 = (rgb, a = 255) => ((rgb[0] | (rgb[1] << 8) | (rgb[2] << 16) | (a << 24)) >>> 0);  // little-endian RGBA
export const PALETTE_RGB = PALETTE.map(hexRgb);
const VIRIDIS_RGB = VIRIDIS.map(hexRgb);
export const PLAIN32 = rgba32(hexRgb(PLAIN));
export const DIMMED32 = rgba32([221, 221, 221]);
export const MISSING32 = rgba32(MISSING_RGB);
export const VIRIDIS_LUT = (() => {  // 256 steps of the colour scale
  const lut = new Uint32Array(256);
  for (let k = 0; k < 256; k++) {
    const f = (k / 255) * (VIRIDIS_RGB.length - 1), j = Math.min(Math.floor(f), VIRIDIS_RGB.length - 2), u = f - j;
    const a = VIRIDIS_RGB[j], b = VIRIDIS_RGB[j + 1];
    lut[k] = rgba32([0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * u)));
  }
  return lut;
})();
