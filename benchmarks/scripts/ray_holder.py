"""ray section: start a local Ray, print its address, keep it until stdin closes."""
import sys
from embeddings.distributed import start_local_ray
start_local_ray()
import ray  # noqa: E402
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
