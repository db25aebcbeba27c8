"""backends section: `embeddings encode` in this process, then which model libraries it imported.

    cli_imports_probe.py TEXTS.csv OUT.npy
"""
import json, sys  # noqa: E401
from embeddings.cli import main
main(["encode", sys.argv[1], "--out", sys.argv[2], "--no-cache", "-q"])
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
