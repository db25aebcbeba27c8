"""view: `embeddings view DATA` from process start to the URL line (the server answering its health check)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchmarks.measure import PY, ROOT, Config, Row, add, child_env, log, size_label
from benchmarks.sections.scale import scale_vectors
from harness.browser import free_port


def bench_view(cfg: Config, workdir: Path) -> None:
    """`embeddings view DATA`: process start to the URL line (the server answering its health check)."""
    log("view: embeddings view start-up to URL")
    sentences = ROOT / "sample_data" / "sentences.csv"
    million = scale_vectors(cfg, workdir)  # the scale section's vectors; written here under --only view
    for label, data in (("300 texts", sentences), (f"{size_label(cfg.million)} x 384 .npy", million)):
        times = []
        for _ in range(cfg.repeats):
            env = child_env(EMBEDDINGS_CACHE=str(workdir / "view-cache.sqlite"))
            start = time.perf_counter()
            proc = subprocess.Popen([PY, "-m", "embeddings", "view", str(data), "--port", str(free_port())],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
            try:
                line = proc.stdout.readline()
                times.append(time.perf_counter() - start)
                if not line.startswith("http://127.0.0.1:"):
                    raise RuntimeError(f"embeddings view printed {line!r}")
            finally:
                proc.send_signal(2)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        add(Row("view", "`embeddings view DATA`: start to URL", label, None, "s", runs=times,
                note="checks DATA (load_input), starts Streamlit on 127.0.0.1, waits for its health check"))
