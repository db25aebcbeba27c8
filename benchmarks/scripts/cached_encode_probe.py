"""cache section: encode_texts on a filled cache, and whether that imported a model. cached_encode_probe.py TEXTS.csv"""
import json, sys, time, pandas as pd  # noqa: E401
start = time.perf_counter()
from embeddings.encode import encode_texts  # noqa: E402
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
emb = encode_texts(texts)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(emb.vectors),
                  "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
