"""The live section (benchmarks/sections/live.py) alone, with its own sizes and its own table.

    python benchmarks/live.py [--points 10000] [--rounds 3] [--methods tsne,umap] [--workdir DIR] [--json OUT.json]

The same as ``benchmarks/run.py --only live`` (which takes its sizes from the run: 10k points and
the run's repeats, 2k and one round with --quick), kept for issue 20's figures: it prints the
section's own Markdown table (one line per method) and can write the whole result as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.measure import FULL, log  # noqa: E402
from benchmarks.sections.live import report, run_live  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--methods", default="tsne,umap")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="bench-live-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    cfg = dataclasses.replace(FULL, repeats=args.rounds, live_points=args.points)
    methods = tuple(m.strip() for m in args.methods.split(","))
    results = run_live(cfg, workdir, args.points, args.rounds, methods)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
