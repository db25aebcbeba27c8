"""live section: a layout computed alone, as the app did before issue 20 (a spinner, then one picture).
live_unwatched.py VECTORS.npy METHOD OUT.npy: the layout's own time (Projection.seconds) and CPU."""
import json, sys, time, numpy as np  # noqa: E401
from embeddings.reduce import project  # noqa: E402

x, method = np.load(sys.argv[1]), sys.argv[2]
start = time.process_time()
params = {"umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine"},
          "tsne": {"perplexity": 30.0, "learning_rate": "auto", "n_iter": 500}}[method]  # the app's defaults
result = project(x, method, 2, seed=0, **params)
np.save(sys.argv[3], result.coords)
print(json.dumps({"seconds": result.seconds, "cpu": time.process_time() - start}))
