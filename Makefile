# Two commands do everything on a fresh machine: `make demo` (the main job) and `make test`.
# Each sets itself up first; set-up reruns only when its inputs change.
VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE ?= 1
export LANGSMITH_TRACING ?= false
export LANGGRAPH_CLI_NO_ANALYTICS ?= 1

.PHONY: setup demo test test-all bench studio clean-runs

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml constraints.txt scripts/setup.sh tests/plugin_pkg/pyproject.toml
	bash scripts/setup.sh
	touch $@

# The main job: a paper PDF → a narrated explainer video (SciTalk) on the embedded local model.
demo: setup
	$(BIN)/python examples/sample_paper.py runs/sample_paper.pdf
	$(BIN)/agentgraphs run scitalk --paper runs/sample_paper.pdf

test: setup
	$(BIN)/python -m pytest -m "not slow" --durations=15

test-all: setup
	$(BIN)/python -m pytest --durations=15

bench: setup
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/embedded_model.py
	$(BIN)/python bench/structured_output.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/scitalk.py
	$(BIN)/python bench/mpo.py

studio: setup
	$(BIN)/agentgraphs studio
