// What the benchmark runs in the app's page (the top document, not the map's iframe); called as
// probe("app_probes.js", "mapPoints") (benchmarks/sections/probes.py).
({
  // The number of points of the first visible map that has drawn, or -1. Read through the page
  // (contentWindow), not a frame handle: a handle to an iframe the app just replaced can hang
  // instead of failing.
  mapPoints() {
    for (const f of document.querySelectorAll("iframe[title='app.components.map.point_map']")) {
      if (!f.checkVisibility()) continue;
      const S = f.contentWindow && f.contentWindow.__map;
      if (S && S.data && S.stats.firstDrawAt !== null) return S.data.n;
    }
    return -1;
  },
})
