"""memory section: peak RSS after each stage of load, PCA, kNN, map payload. memory_stages.py VECTORS.npy META.tsv"""
import json, resource, sys, time  # noqa: E401
import numpy as np
def peak():
    # VmHWM: this process image's peak RSS. ru_maxrss is reported too, but on Linux it keeps the
    # forking parent's RSS across exec, so a child of a big process starts with the parent's figure.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
vectors, meta_path = sys.argv[1], sys.argv[2]
stages = {"start": [0.0, peak()]}
import pandas as pd  # noqa: E402
from embeddings.reduce import project  # noqa: E402
from embeddings.neighbors import knn  # noqa: E402
from embeddings.mapdata import pack_map_data  # noqa: E402
stages["imports"] = [0.0, peak()]
t = time.perf_counter(); x = np.load(vectors); meta = pd.read_csv(meta_path, sep="\t", dtype={"cluster": str})
stages["load vectors + metadata"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); p = project(x, "pca")
stages["PCA 2D"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); idx, dist = knn(x, 10, "cosine")
stages["kNN k=10 (all points)"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); payload = pack_map_data(p.coords, meta)
stages["map payload (binary)"] = [time.perf_counter() - t, peak()]
print(json.dumps({"stages": stages, "payload_mb": len(payload) / 2**20, "peak_mib": peak(), "ru_maxrss_mib": maxrss()}))
