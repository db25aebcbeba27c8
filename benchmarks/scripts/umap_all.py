"""umap_all section: UMAP of a .npy with a sample limit, progress marks and quality. umap_all.py VECTORS.npy LIMIT"""
import json, sys, time, numpy as np  # noqa: E401
from embeddings.reduce import project
x = np.load(sys.argv[1])
limit = int(sys.argv[2])
marks = {}
start = time.perf_counter(); cpu = time.process_time()
def progress(done, total):
    if total > 1 and done >= 100 and "graph" not in marks:
        marks["graph"] = time.perf_counter() - start
    if total > 1 and done > 100 and "first epoch" not in marks:
        marks["first epoch"] = time.perf_counter() - start
p = project(x, "umap", max_points=limit, progress=progress)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "marks": marks,
                  "trust": p.trustworthiness, "note": p.note, "points": len(p.coords)}))
