# make quick : set up .venv (if missing) and run every stage on a reduced configuration (minutes)
# make run   : set up .venv (if missing) and run the default pipeline (offline, embedded data)
# make test  : set up .venv (if missing) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch/torchvision as these machines provide them; override on others, e.g.
#   make run TORCH_SPEC="torch torchvision"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
CORES  ?= all
STAMP  := $(VENV)/.mtlbench-installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: quick run audit test lint bench clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# every stage of the DAG on configs/quick.yaml, then the HTML report of it
quick: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$$($(BIN)/mtlbench gpu-slots) --configfile configs/quick.yaml
	$(BIN)/snakemake --configfile configs/quick.yaml --report results/report_quick.html

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$$($(BIN)/mtlbench gpu-slots)

# the default run plus every public-code variant and ablation (configs/digits_audit.yaml)
audit: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$$($(BIN)/mtlbench gpu-slots) --configfile configs/digits_audit.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean-results:
	rm -rf results/runs results/tables results/figures results/metrics.json logs
