"""backends section: load the bundled model, then convert it (choose_backend "auto"); seconds, CPU, the check."""
import json, time  # noqa: E401
t0 = time.perf_counter()
from embeddings.models import ModelSpec, load_model  # noqa: E402
spec = ModelSpec.parse("all-MiniLM-L6-v2")
load_model(spec, device="cpu")
t1, c1 = time.perf_counter(), time.process_time()
from embeddings.backends import choose_backend  # noqa: E402
backend = choose_backend(spec, "auto")
t2, c2 = time.perf_counter(), time.process_time()
check = json.loads((backend.model.folder / "check.json").read_text()) if backend.model else {}
print(json.dumps({"load": t1 - t0, "convert": t2 - t1, "convert_cpu": c2 - c1, "backend": backend.name,
                  "note": backend.note,
                  "check": check}))
