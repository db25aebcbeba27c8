// Images: when the points are images, the payload carries one atlas (a PNG or JPEG holding every
// point's picture as a tile, in point order: embeddings/sprites.py map_atlas). This module decodes
// it once per data set, in the browser's own image decoder, and hands out a point's tile: for the
// tooltip (a small canvas) and for the sprites (sprites.js uploads the same bitmap as a texture).
// Nothing is fetched: the atlas is in the payload.

const TOOLTIP_MIN = 64, TOOLTIP_MAX = 128;  // the hovered picture's longer side, CSS pixels

// Starts decoding the data's atlas (data.images, from payload.js); `ready` runs once it is decoded
// and still the data shown. S.images: { tile: [w, h], columns, count, bitmap (null until decoded),
// error (a decoding failure, said in the status line) }.
export function loadImages(S, data, ready) {
  S.images = null;
  const spec = data.images;
  if (!spec || !spec.atlas) return;
  const images = { tile: spec.tile, columns: spec.columns, count: spec.count, bitmap: null, error: null, id: S.dataId };
  S.images = images;
  const type = spec.format === "jpeg" ? "image/jpeg" : "image/png";
  createImageBitmap(new Blob([spec.atlas], { type }), { premultiplyAlpha: "none", colorSpaceConversion: "none" })
    .then((bitmap) => {
      if (S.images !== images) { bitmap.close(); return; }  // newer data came meanwhile
      images.bitmap = bitmap;
      ready(images);
    })
    .catch((err) => { images.error = "The points' images could not be decoded: " + (err && err.message || err); ready(images); });
}

// Where point i's tile lies in the atlas: [x, y, w, h] in atlas pixels.
export function tileRect(images, i) {
  const [w, h] = images.tile, c = images.columns;
  return [(i % c) * w, Math.floor(i / c) * h, w, h];
}

// A canvas showing point i's picture (enlarged without smoothing, so small images stay sharp), or
// null when the points have no images or they are not decoded yet.
export function imageOf(S, i, doc) {
  const images = S.images;
  if (!images || !images.bitmap || i < 0 || i >= images.count) return null;
  const [x, y, w, h] = tileRect(images, i);
  const scale = Math.min(TOOLTIP_MAX / Math.max(w, h), Math.max(1, Math.ceil(TOOLTIP_MIN / Math.max(w, h))));
  const canvas = doc.createElement("canvas");
  canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
  canvas.className = "picture";
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = scale < 1;
  ctx.drawImage(images.bitmap, x, y, w, h, 0, 0, canvas.width, canvas.height);
  return canvas;
}
