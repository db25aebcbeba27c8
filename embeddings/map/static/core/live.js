// The live bar: while a UMAP or t-SNE layout forms (the host hands its frames to setLayout), a
// line above the map says how far it has got, with Pause, Resume and Stop. The buttons only ask:
// onEvent({type: "live", action}) goes to the host, which tells whoever computes (the app's live
// route, the notebook's kernel); the bar then shows the state the computation reports back.

const NAMES = { tsne: "t-SNE", umap: "UMAP" };
const STEPS = { tsne: "iteration", umap: "epoch" };
const fmt = (n) => Number(n || 0).toLocaleString("en-US");

function describe(L) {
  const name = NAMES[L.method] || L.method || "The layout";
  const at = L.total ? `${STEPS[L.method] || "step"} ${fmt(L.iteration)} of ${fmt(L.total)}` : "";
  switch (L.state) {
    case "preparing": return `${name}: finding neighbours…`;
    case "running": return `${name} forming: ${at}` + (L.wanted === "pause" ? " (pausing…)" : L.wanted === "stop" ? " (stopping…)" : "");
    case "paused": return `${name} paused at ${at}` + (L.wanted === "stop" ? " (stopping…)" : "");
    case "stopped": return `${name} stopped at ${at}: this layout stays; Resume carries on from it`;
    case "done": return `${name} finished: ${at}`;
    case "failed": return `${name} failed` + (L.error ? `: ${L.error}` : "");
    case "cancelled": return `${name} was cancelled`;
    default: return `${name}: the live view lost its connection to the computation`;
  }
}

export function renderLive(map) {
  const L = map.state.live, els = map.els;
  els.live.hidden = !L;
  if (!L) return;
  const text = describe(L);
  if (els.liveText.textContent !== text) els.liveText.textContent = text;
  const moving = L.state === "running" || L.state === "preparing";
  els.livePause.disabled = !moving || !!L.wanted;
  els.liveResume.disabled = !(L.state === "paused" || L.state === "stopped");
  els.liveStop.disabled = !(moving || L.state === "paused") || L.wanted === "stop";
  els.live.dataset.state = L.state;
  els.live.dataset.iteration = String(L.iteration || 0);
}

export function bindLive(map) {
  const els = map.els;
  for (const [button, action] of [[els.livePause, "pause"], [els.liveResume, "resume"], [els.liveStop, "stop"]]) {
    button.addEventListener("click", () => {
      const L = map.state.live;
      if (!L) return;
      L.wanted = action === "resume" ? null : action;  // shown at once; the computation confirms
      renderLive(map);
      map.emit({ type: "live", action });
    });
  }
}
