"""scale section: load vectors (+ metadata, PCA, map payload) in a fresh process; time, CPU, peak RSS per stage.

    load_stages.py MODE VECTORS META PROJECT

MODE: new (load_input), old-npy (the .npy reader before), old-tsv (the line-by-line TSV reader over
the whole file); META: a metadata TSV or "" for none; PROJECT: 1 to add PCA and the map payload.
"""
import json, sys, time  # noqa: E401
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
mode, vectors, meta, project_too = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4] == "1"
stages = {"start": [0.0, peak()]}
import numpy as np, pandas as pd  # noqa: E401, E402
from embeddings import data as data_module  # noqa: E402
from embeddings.pipeline import load_input  # noqa: E402
from embeddings.reduce import project  # noqa: E402
stages["imports"] = [0.0, peak()]
t = time.perf_counter(); c = time.process_time()
if mode == "old-npy":  # the reader before: the whole file as bytes, np.load from them, a full NaN mask
    import io
    from pathlib import Path
    x = np.load(io.BytesIO(Path(vectors).read_bytes()), allow_pickle=False)
    assert np.isfinite(x).all()
    x = np.ascontiguousarray(x, dtype=np.float32)
else:
    if mode == "old-tsv":  # the line-by-line reader over the whole file at once (the fallback path)
        import os
        data_module.TSV_BLOCK_BYTES = os.path.getsize(vectors) + 1
        data_module._fast_tsv_block = lambda block, width: None
    ds = load_input(vectors, metadata=meta)
    x = ds.vectors
stages["load"] = [time.perf_counter() - t, peak(), time.process_time() - c]
if project_too:
    t = time.perf_counter(); c = time.process_time(); p = project(x, "pca")
    stages["PCA 2D"] = [time.perf_counter() - t, peak(), time.process_time() - c]
    t = time.perf_counter(); c = time.process_time()
    # what the map receives: float32 coordinates and one category code per point
    codes = pd.Categorical(ds.metadata["cluster"]).codes
    payload = p.coords.astype(np.float32).tobytes() + codes.astype(np.int16).tobytes()
    stages["map payload"] = [time.perf_counter() - t, peak(), time.process_time() - c]
print(json.dumps({"stages": stages, "peak_mib": peak(), "n": int(len(x))}))
