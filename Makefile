# `make run` and `make test` create .venv/ on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test bench clean install

# --no-compile: pip would compile every installed module to bytecode (torch, ray, jupyter: 130 s
# of the install here, 49 s without); Python compiles the modules a run imports on first use
# and keeps them, a few seconds once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# app/server.py: the app behind its access token; it prints the link to open (with the token).
# EMBEDDINGS_TOKEN=off make run turns the token off (anyone on this machine could then open it).
run: $(STAMP)
	$(BIN)/streamlit run app/server.py --server.address 127.0.0.1 --server.headless true

# Two workers (pytest-xdist): the suite alone keeps 1.2 of 2 cores busy (browsers, servers and CLI
# processes waiting on each other); each worker takes the next test as it frees, and takes work
# from the other when its own runs out (worksteal). TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=25

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV)
