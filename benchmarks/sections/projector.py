"""projector: opening a projector config with a .bytes tensor against the same vectors as TSV; an
export with a bookmark against one without."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import Config, Row, add, log, size_label, timed


def bench_projector(cfg: Config, workdir: Path) -> None:
    """Opening a projector config with a .bytes tensor (the demo data's layout) against the same
    vectors as TSV; an export with a bookmark (every point's coordinates) against one without."""
    import pandas as pd

    from embeddings.pipeline import load_input
    from embeddings.projector import write_projector
    from embeddings.reduce import project
    from embeddings.views import View

    base = base_vectors(workdir, cfg)
    n = 71_291 if not cfg.quick else 5_000  # the projector's "Word2Vec All" demo tensor: 71,291 x 200
    x = np.ascontiguousarray(tiled(base, n, seed=5)[:, :200])
    folder = workdir / "projector-demo"
    folder.mkdir(exist_ok=True)
    x.astype("<f4").tofile(folder / "tensors.bytes")
    (folder / "labels.tsv").write_text("".join(f"word{i}\n" for i in range(n)), encoding="utf-8")
    (folder / "projector_config.json").write_text(json.dumps({"embeddings": [{
        "tensorName": "demo", "tensorShape": [n, 200], "tensorPath": "tensors.bytes", "metadataPath": "labels.tsv"}]}))
    write_projector(workdir / "projector-tsv", x, None)
    log(f"projector: open a {size_label(n)} x 200 .bytes config vs the same vectors as TSV")
    config = folder / "projector_config.json"
    ours = [timed(lambda: load_input(config))[0] for _ in range(cfg.repeats)]
    tsv = [timed(lambda: load_input(workdir / "projector-tsv" / "vectors.tsv", metadata=folder / "labels.tsv"))[0]
           for _ in range(cfg.repeats)]
    assert np.array_equal(load_input(config).vectors, x)
    add(Row("projector", "open a projector config, .bytes tensor + labels (load_input)", f"{size_label(n)} x 200",
            None, "s", "the same vectors as vectors.tsv + labels", None, runs=ours, baseline_runs=tsv,
            note="vectors equal the written float32 exactly"))

    m = cfg.big
    y = tiled(base, m, seed=6)
    metadata = pd.DataFrame({"text": [f"t{i}" for i in range(m)], "topic": [f"k{i % 20}" for i in range(m)]})
    view = View.of_projection(project(y, "pca", 2), name="PCA", color="topic")
    log(f"projector: export {size_label(m)} x {y.shape[1]} with a PCA bookmark vs without")
    with_view = [timed(lambda: write_projector(workdir / "export-view", y, metadata, views=[view]))[0]
                 for _ in range(cfg.repeats)]
    without = [timed(lambda: write_projector(workdir / "export-plain", y, metadata))[0] for _ in range(cfg.repeats)]
    size = (workdir / "export-view" / "bookmarks.txt").stat().st_size
    add(Row("projector", "export with a PCA bookmark (write_projector, views=[PCA])", f"{size_label(m)} x {y.shape[1]}",
            None, "s", "the same export without bookmarks", None, runs=with_view, baseline_runs=without,
            note=f"bookmarks.txt {size / 2**20:.1f} MiB, every point's coordinates"))
