"""The benchmark (benchmarks/run.py): sections in benchmarks/sections/, README.md says what each measures."""
