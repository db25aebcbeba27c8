"""The benchmark's sections, one module each; each exposes bench_<section>(cfg, workdir), which
benchmarks/run.py calls. Shared helpers: benchmarks/measure.py (rows, timing) and
benchmarks/corpus.py (data); the page-side JavaScript is in the .js files here."""
