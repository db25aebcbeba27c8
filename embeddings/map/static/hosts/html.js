// The one-file host: the page embeddings.map.html_file writes (map.html). It reads the payload
// (gzip, base64) and the starting look from elements of the page itself, so the file opens from disk
// with no server and no network. Bundled into the page by embeddings.map.bundle.
import { createMap } from "../core/map.js";
import { decodePayload } from "../core/payload.js";

// The payload element's text: base64 of the payload, gzip-compressed when data-encoding says so
// (the browser's own DecompressionStream: nothing is fetched).
async function embeddedBytes(id) {
  const el = document.getElementById(id), binary = atob(el.textContent.trim());
  const bytes = new Uint8Array(binary.length);
  for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
  if (el.dataset.encoding !== "gzip") return bytes;
  if (typeof DecompressionStream === "undefined") throw new Error("this browser cannot unpack it (no DecompressionStream); open the file in a current Chrome, Edge, Firefox or Safari");
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const map = createMap(document.getElementById("root"), { ids: true });
window.__map = map.state;  // tests read the state here ...
window.requestDraw = map.requestDraw;  // ... and redraw after moving a camera themselves
try {
  const setup = JSON.parse(document.getElementById("emap-setup").textContent);
  map.setData(setup.data_id, decodePayload(await embeddedBytes("emap-payload")),
    { colorBy: setup.color, labelBy: setup.label, textColumn: setup.text_column, look: setup.look });
  map.refresh();
} catch (err) {
  map.showError("The map could not read its data: " + err.message);
  console.error(err);
}
