# Two commands set everything up on a fresh machine:
#   make demo   # ERM vs mixup on label-noisy digits, offline, a few minutes on 2 CPU cores
#   make test   # the test suite (installs what it needs first)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bench lint install

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[examples,dev,backends]"
	touch $@

demo: $(STAMP)
	$(BIN)/python examples/label_noise_demo.py --output runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -x -q --durations=15

bench: $(STAMP)
	$(BIN)/python -m benchmarks --output benchmarks/results --plot docs/benchmarks_throughput.png

lint: $(STAMP)
	$(BIN)/ruff check keras_mixup tests examples benchmarks
