"""The benchmark: every figure a median over repeats, beside a baseline measured in the same run.

    make bench                                       # the full run (hours on 2 shared cores)
    .venv/bin/python benchmarks/run.py --quick       # small sizes: a smoke check (80-90 min at load 8-25)
    .venv/bin/python benchmarks/run.py --only encode,reduce --repeats 5

Sections (``--only`` takes their names), in the order a full run takes them:

- encode: our encode_texts against bare SentenceTransformer, in one process;
- cache: whole CLI processes, cold against cached, and a bare sentence-transformers script;
- reduce: PCA, UMAP and t-SNE at 1k, 10k and 100k; UMAP's first call in a fresh process with a
  cold and a warm numba cache;
- knn: exact neighbours;
- projector: a projector config with a .bytes tensor; an export with a bookmark;
- memory: peak RSS of 100k x 384 through load, PCA, neighbours and the map payload, in a fresh process;
- scale: 1M x 384 .npy and TSV load, PCA and the map payload, with peak RSS;
- ann: approximate against exact neighbours;
- umap_all: UMAP on all of 100k points;
- view: `embeddings view` start-up;
- app: a real Chromium driving the app (app/server.py, behind its access token): first chart,
  re-colour, 100k points;
- ray: `--engine ray` against the local engine on 5,000 texts, whole CLI processes; Ray's start-up;
- backends: the converted model and int8 against a bare sentence-transformers script, whole
  processes; the first conversion;
- first_map: the app's first map of 9,000 real texts (10k asked; the mix has about 9,400 here) with an empty vector cache, backend auto against torch;
- rerun: PCA to UMAP in the sidebar on a coloured, labelled and searched 2,000-point map, click
  to settled, on warm servers with and without Streamlit's forced garbage collection after every
  script run;
- train: every layer of 1,000 texts in one pass against encoding them once; fine-tuning with the
  defaults on the sample sentences, 2,000 docstrings and Debian packages (held-out accuracy, time);
- clusters: HDBSCAN and c-TF-IDF names on a 2D layout at 10k and 100k; agreement with the sample
  sentences' topics; the defaults (original space) on PCA layouts of labelled texts; 100k in the
  original space;
- map: the point map alone in Chromium at 100k and 1M points: first draw, re-colour, search,
  hover, pan/zoom frame rate, tab memory, timed in the page to the changed pixels;
- images: scikit-learn's 1,797 digits as PNG files read, as pixel vectors, exported with their
  sprite and read back; the map's atlas at 10k and 100k digits and 10k photo crops;
- live: a t-SNE and a UMAP layout forming on the app's map at 10k points: map updates per
  second, and the layout's time watched against unwatched.

Each section is a module in benchmarks/sections/ whose bench_<section>(cfg, workdir) is what runs;
benchmarks/README.md says what each row measures. Prints a Markdown table and the machine; writes
JSON (full run: benchmarks/results-<UTC date>.json; --quick: .benchmarks/results-quick.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.measure import FULL, QUICK, ROWS, log  # noqa: E402
from benchmarks.report import machine, notes, table, write_results  # noqa: E402
from benchmarks.sections.ann import bench_ann  # noqa: E402
from benchmarks.sections.app import bench_app, bench_first_map, bench_rerun  # noqa: E402
from benchmarks.sections.backends import bench_backends  # noqa: E402
from benchmarks.sections.cache import bench_cache  # noqa: E402
from benchmarks.sections.clusters import bench_clusters  # noqa: E402
from benchmarks.sections.encode import bench_encode  # noqa: E402
from benchmarks.sections.images import bench_images  # noqa: E402
from benchmarks.sections.knn import bench_knn  # noqa: E402
from benchmarks.sections.live import bench_live  # noqa: E402
from benchmarks.sections.map import bench_map  # noqa: E402
from benchmarks.sections.memory import bench_memory  # noqa: E402
from benchmarks.sections.projector import bench_projector  # noqa: E402
from benchmarks.sections.ray import bench_ray  # noqa: E402
from benchmarks.sections.reduce import bench_reduce  # noqa: E402
from benchmarks.sections.scale import bench_scale  # noqa: E402
from benchmarks.sections.train import bench_train  # noqa: E402
from benchmarks.sections.umap_all import bench_umap_all  # noqa: E402
from benchmarks.sections.view import bench_view  # noqa: E402

# In the order a full run takes them; --only takes these names.
SECTIONS = {
    "encode": bench_encode,
    "cache": bench_cache,
    "reduce": bench_reduce,
    "knn": bench_knn,
    "projector": bench_projector,
    "memory": bench_memory,
    "scale": bench_scale,
    "ann": bench_ann,
    "umap_all": bench_umap_all,
    "view": bench_view,
    "app": bench_app,
    "ray": bench_ray,
    "backends": bench_backends,
    "first_map": bench_first_map,
    "rerun": bench_rerun,
    "train": bench_train,
    "clusters": bench_clusters,
    "map": bench_map,
    "images": bench_images,
    "live": bench_live,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer repeats: a smoke check")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3; 2 with --quick)")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.repeats:
        cfg.repeats = args.repeats
    sections = SECTIONS if not args.only else tuple(s.strip() for s in args.only.split(","))
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    started = dt.datetime.now(dt.timezone.utc)
    info = machine()
    info["loadavg_start"] = os.getloadavg()
    log(f"machine: {info.get('cpu')}, {info.get('usable_cpus')} CPUs, {info.get('ram_gib')} GiB, "
        f"torch {info.get('torch')} with {info.get('torch_threads')} threads; load {info['loadavg_start']}")
    tmp = tempfile.TemporaryDirectory(prefix="bench-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    failures: dict[str, str] = {}
    loads: dict[str, Any] = {}
    section_seconds: dict[str, float] = {}
    for name in sections:
        loads[name] = os.getloadavg()
        t0 = time.perf_counter()
        try:
            SECTIONS[name](cfg, workdir)
        except Exception as exc:  # one broken section must not lose the others' figures
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"[:2000]
            log(f"{name}: FAILED: {failures[name][:300]}")
        section_seconds[name] = round(time.perf_counter() - t0, 1)
    info["loadavg_end"] = os.getloadavg()

    head = (f"Machine: {info.get('cpu')}, {info.get('usable_cpus')} usable of {info.get('logical_cpus')} logical CPUs, "
            f"{info.get('ram_gib')} GiB RAM, torch {info.get('torch')} ({info.get('torch_threads')} threads), "
            f"Python {info.get('python')}, {info.get('chromium') or 'no Chromium'}, code {info.get('git')}. "
            f"Load average (1 min) at start {info['loadavg_start'][0]:.2f}, at end {info['loadavg_end'][0]:.2f}. "
            f"{'QUICK run (small sizes; targets not judged)' if cfg.quick else 'Full sizes'}"
            f"{'' if not args.only else ', sections ' + ', '.join(sections)}, "
            f"{cfg.repeats} repeats, {started:%Y-%m-%d %H:%M} UTC, {sum(section_seconds.values()) / 60:.1f} min.")
    print()
    print(head)
    print()
    print(table())
    print()
    print(notes())
    if failures:
        print()
        for name, why in failures.items():
            print(f"- section {name} FAILED: {why.splitlines()[0][:300]}")
    passed = [r for r in ROWS if r.passed is not None]
    print(f"\ntargets: {sum(r.passed for r in passed)} of {len(passed)} passed")

    out = args.json or (ROOT / ".benchmarks" / "results-quick.json" if cfg.quick
                        else ROOT / "benchmarks" / f"results-{started:%Y-%m-%d}.json")
    write_results(out, started, cfg, info, section_seconds, loads, failures)
    log(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
