// The payload: reads the one binary format embeddings/mapdata.py writes (a JSON header, then
// 4-byte aligned little-endian sections viewed without copying) into the data the map draws.
// Owns the payload's layout on this side; nothing here knows about drawing or hosts.

export function decodePayload(bytes) {
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
  // Points that are images: the atlas's bytes and how to cut it (images.js decodes it).
  const images = header.images ? Object.assign({ atlas: sections["images/atlas"] }, header.images) : null;
  // coordsOnly: a new layout of points the map already holds (embeddings.mapdata.pack_coords);
  // live: how far a layout still forming has got (its iteration, state), as the server wrote it.
  return { n, panels, columns, rows, rowIndex, axisTitles: header.axis_titles || [], images,
    imagesNote: header.images_note || null, coordsOnly: !!header.coords_only, live: header.live || null };
}

export function columnValues(col) {  // the distinct strings of a category column, decoded once
  if (!col._values) col._values = col.blob.length ? new TextDecoder().decode(col.blob).split("\0") : [""];
  return col._values;
}

export function cellText(col, i) {
  if (col.type === "number") {
    const v = col.numbers[i];
    return Number.isNaN(v) ? "(missing)" : String(Math.round(v * 1e6) / 1e6);
  }
  return columnValues(col)[col.codes[i]];
}
