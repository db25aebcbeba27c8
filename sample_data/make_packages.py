"""Write a second real labelled text set: Debian package descriptions labelled by archive section.

    python sample_data/make_packages.py OUT.csv [--sections games,sound,...] [--per-section N]

Reads what ``apt-cache dumpavail`` prints (every package of the machine's package lists, about
60,000) or a file of the same format (``--from FILE``); no network. Columns: text (the package's
one-line description), label (its section, without the "contrib/" or "non-free/" prefix),
package. Near-identical twins are dropped so the classes say what packages are for rather than
how they are split: one package per source package (the first by name that is not -dev, -doc,
-dbg, -data, -common), and one package per description once lower-cased and stripped of a
trailing bracket ("(development files)", "- documentation"). Per section at most
``--per-section`` packages, a seeded sample, sorted by package name, so the same package list
always writes the same file. The output is not committed.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
from pathlib import Path

# Sections that say what a package is for (not how it is built: libs, libdevel, doc, python...),
# each with several hundred packages in Debian 12.
SECTIONS = ("games", "science", "sound", "graphics", "fonts", "web", "math", "mail", "editors", "database",
            "video", "electronics", "hamradio", "net")
TWIN_SUFFIXES = re.compile(r"-(dev|doc|docs|dbg|dbgsym|data|common|examples|tests?)$")
TRAILER = re.compile(r"\s*(\([^)]*\)|\[[^]]*\]|[-\u2013:]\s*[^-\u2013:]*)$")


def records(text: str):
    """One dict per package stanza: Package, Source, Section, Description (first line)."""
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, value.strip())
        if fields.get("Package") and fields.get("Description") and fields.get("Section"):
            yield fields


def collect(text: str, sections: tuple[str, ...], per_section: int, seed: int = 0) -> list[tuple[str, str, str]]:
    by_source: dict[str, dict[str, str]] = {}
    for fields in records(text):
        section = fields["Section"].rsplit("/", 1)[-1]
        if section not in sections:
            continue
        source = fields.get("Source", fields["Package"]).split()[0]
        fields["_section"] = section
        kept = by_source.get(source)
        # Prefer the package that is the thing itself over its -dev/-doc/-data twins.
        rank = (bool(TWIN_SUFFIXES.search(fields["Package"])), fields["Package"])
        if kept is None or rank < (bool(TWIN_SUFFIXES.search(kept["Package"])), kept["Package"]):
            by_source[source] = fields
    seen: set[str] = set()
    per: dict[str, list[tuple[str, str, str]]] = {}
    for fields in sorted(by_source.values(), key=lambda f: f["Package"]):
        description = " ".join(fields["Description"].split())
        normal = TRAILER.sub("", description.lower()).strip()
        if len(description) < 12 or normal in seen:
            continue
        seen.add(normal)
        per.setdefault(fields["_section"], []).append((description, fields["_section"], fields["Package"]))
    rows: list[tuple[str, str, str]] = []
    rng = random.Random(seed)
    for section in sections:
        found = per.get(section, [])
        rows += sorted(rng.sample(found, per_section) if len(found) > per_section else found, key=lambda r: r[2])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--from", dest="source", type=Path, help="a dumpavail-format file (default: run apt-cache)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated sections to keep")
    parser.add_argument("--per-section", type=int, default=150, help="at most this many packages per section")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.source is not None:
        text = args.source.read_text(encoding="utf-8", errors="replace")
    else:
        try:
            text = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True,
                                  errors="replace").stdout
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"error: apt-cache dumpavail failed ({error}); pass --from FILE", file=sys.stderr)
            return 2
    rows = collect(text, tuple(s.strip() for s in args.sections.split(",") if s.strip()), args.per_section,
                   args.seed)
    if not rows:
        print("error: no packages of those sections in the package list (run apt-get update?)", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label", "package"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
