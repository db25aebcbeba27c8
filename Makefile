# `make run` and `make test` create .venv/ on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test bench clean install

# uv installs everything but torch (12 s here, against 62 s through pip); torch comes through pip,
# which finds the CPU build where the machine keeps it, and is named again to uv so that nothing
# may move it. No bytecode at install time (compiling all of site-packages took 64 s); instead
# `run`, `test` and `bench` let Python write the bytecode of what is imported, once, on first use: with
# PYTHONDONTWRITEBYTECODE set (as on our machines) nothing was ever written, and every process
# that imports torch compiled it again (the suite took 1,070 s instead of 690).
UV := $(BIN)/uv
WRITE_BYTECODE := env -u PYTHONDONTWRITEBYTECODE
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/python -m pip install --quiet --no-compile "$(TORCH_SPEC)"
	$(UV) pip install --quiet --python $(BIN)/python -e ".[test]" "$(TORCH_SPEC)"
	touch $(STAMP)

install: $(STAMP)

# app/server.py: the app behind its access token; it prints the link to open (with the token).
# EMBEDDINGS_TOKEN=off make run turns the token off (anyone on this machine could then open it).
run: $(STAMP)
	$(WRITE_BYTECODE) $(BIN)/streamlit run app/server.py --server.address 127.0.0.1 --server.headless true

# Two workers (pytest-xdist): the suite alone keeps 1.2 of 2 cores busy (browsers, servers and CLI
# processes waiting on each other); each worker takes the next test as it frees, and takes work
# from the other when its own runs out (worksteal). TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(WRITE_BYTECODE) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=25

bench: $(STAMP)
	$(WRITE_BYTECODE) $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV)
