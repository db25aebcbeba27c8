"""reduce section: a new process's first UMAP, import included. umap_first_call.py VECTORS.npy"""
import json, sys, time, numpy as np  # noqa: E401
start = time.perf_counter()
from embeddings.reduce import project  # noqa: E402
x = np.load(sys.argv[1])
project(x, "umap")
print(json.dumps({"seconds": time.perf_counter() - start}))
