"""The versions of what the benchmark measures, and torch's thread count, as JSON (report.machine)."""
import json, torch, numpy, sklearn, sentence_transformers as st, umap, openTSNE, plotly, streamlit  # noqa: E401
print(json.dumps({'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
                  'numpy': numpy.__version__, 'scikit-learn': sklearn.__version__, 'sentence-transformers': st.__version__,
                  'umap-learn': umap.__version__, 'openTSNE': openTSNE.__version__, 'plotly': plotly.__version__,
                  'streamlit': streamlit.__version__}))
