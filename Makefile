# `make run` and `make test` create .venv/ on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test bench clean install

# pip compiles every installed module to bytecode on one core (130 s of the install here, 49 s
# without); compileall does the same on every core (50 s on two). The bytecode must be there:
# with PYTHONDONTWRITEBYTECODE set (as on our machines) nothing compiles on first use, and every
# process that imports torch would compile it again (the suite took 1,070 s instead of 690).
# compileall's exit status is ignored as pip ignores it: a few packages ship files for other
# Python versions that do not compile (as pip's own install leaves them).
SITE = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test]"
	$(BIN)/python -m compileall -qq -j 0 "$(SITE)" || true
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
