# rnngrad — every command a user or CI runs. `make help` lists them.
# The project's virtual environment lives in .venv and is (re)built whenever pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint format bench bench-tracking bench-sweep bench-scale bench-profile sweep report ui server server-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install rnngrad with its dev tools

# make bench's PyTorch (the bench extra): the CPU build from PyTorch's own index, not PyPI's
# Linux wheel with its GB of CUDA libraries (an index that cannot be reached costs seconds)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --extra-index-url $(TORCH_INDEX) -e '.[bench]'
	@touch $(BENCH_STAMP)

test: $(STAMP) ## run the test suite (creates the environment on a fresh machine)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# One BLAS thread; OPENBLAS_CORETYPE/L2_SIZE unset for this command only:
# they force an older, slower OpenBLAS kernel on some processors.
bench: $(BENCH_STAMP) ## time forward+backward against GEMM throughput and PyTorch (installs torch)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	    MKL_NUM_THREADS=1 $(BIN)/python benchmarks/bench_engine.py

bench-tracking: $(STAMP) ## one sweep job with tracking on and off, and MLflow alone storing its record
	$(BIN)/python benchmarks/bench_tracking.py

bench-sweep: $(STAMP) ## make sweep: tracking on/off, 1 and 2 workers, the machine's 2-core ceiling (~12 min)
	$(BIN)/python benchmarks/bench_sweep.py

bench-scale: $(STAMP) ## stores of 100 to 10,000 runs; 1,000-run sweeps on SQLite and PostgreSQL (~1 h)
	$(BIN)/python benchmarks/bench_scale.py

bench-profile: $(STAMP) ## what a recorded profile (reference + self-check) costs against a training step
	$(BIN)/python benchmarks/bench_profile.py

sweep: $(STAMP) ## run the main job: the vanishing sweep (48 runs) into mlflow.db, then its report
	$(BIN)/python experiments/train.py -m tracking.report=true $(SWEEP_UI)
	@echo "Runs are in $(CURDIR)/mlflow.db (artifacts in mlartifacts/). Browse them: make ui"

EXPERIMENT ?= vanishing
UI_PORT ?= 5000
# the page links run ids to make ui's UI, which serves the project's store (not $$MLFLOW_TRACKING_URI's)
REPORT_UI = $(if $(MLFLOW_TRACKING_URI),,--ui http://127.0.0.1:$(UI_PORT))
SWEEP_UI = $(if $(MLFLOW_TRACKING_URI),,tracking.ui=http://127.0.0.1:$(UI_PORT))
report: $(STAMP) ## figures, tables and page for one experiment (EXPERIMENT=vanishing) from the store
	$(BIN)/rnngrad-report --experiment $(EXPERIMENT) $(REPORT_UI)

ui: $(STAMP) ## serve the MLflow UI for the project's store on http://127.0.0.1:5000 (UI_PORT=...)
	$(BIN)/python -m rnngrad.ops.ui --db $(CURDIR)/mlflow.db --port $(UI_PORT)

clean: ## remove caches (keeps .venv)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

SERVER_DIR ?= $(CURDIR)/.mlflow-server
server: $(STAMP) ## start an MLflow server on PostgreSQL (127.0.0.1:5050; SERVER_DIR, PORT, PG_PORT)
	$(BIN)/python -m rnngrad.ops.server start --dir $(SERVER_DIR) \
	    $(if $(PORT),--port $(PORT)) $(if $(PG_PORT),--pg-port $(PG_PORT))

server-stop: ## stop exactly the server and database that make server started
	$(BIN)/python -m rnngrad.ops.server stop --dir $(SERVER_DIR)
