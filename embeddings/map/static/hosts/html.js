// The one-file host: the page embeddings.map.html_file writes (map.html). It reads the payload
// (base64) and the starting look from elements of the page itself, so the file opens from disk
// with no server and no network. Bundled into the page by embeddings.map.bundle.
import { createMap } from "../core/map.js";
import { decodePayload } from "../core/payload.js";

function embeddedBytes(id) {
  const text = document.getElementById(id).textContent.trim(), binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
  return bytes;
}

const map = createMap(document.getElementById("root"), { ids: true });
window.__map = map.state;  // tests read the state here ...
window.requestDraw = map.requestDraw;  // ... and redraw after moving a camera themselves
try {
  const setup = JSON.parse(document.getElementById("emap-setup").textContent);
  map.setData(setup.data_id, decodePayload(embeddedBytes("emap-payload")),
    { colorBy: setup.color, labelBy: setup.label, textColumn: setup.text_column, look: setup.look });
  map.refresh();
} catch (err) {
  map.showError("The map could not read its data: " + err.message);
  console.error(err);
}
