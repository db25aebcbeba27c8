"""ray section: import ray, start a local Ray, shut it down; seconds for each."""
import json, time  # noqa: E401
t0 = time.perf_counter()
from embeddings.distributed import import_ray, start_local_ray  # noqa: E402
ray = import_ray()
t1 = time.perf_counter()
start_local_ray()
t2 = time.perf_counter()
ray.shutdown()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "shutdown": t3 - t2}))
