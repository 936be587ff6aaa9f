# Two commands set everything up on a fresh machine:
#   make demo   # ERM vs mixup on label-noisy digits, offline, a few minutes on 2 CPU cores
#   make test   # lint, then the test suite (docs build and packaging checks included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# TensorFlow's C++ log: 2 hides INFO and WARNING, not ERROR (a real error still shows). The
# examples drop TensorFlow's start-up lines about a missing GPU driver, one of them an ERROR
# (examples/_support/tensorflow_log.py); floor, user and bench run TensorFlow outside them,
# so there the level is 3, errors hidden too. A TF_CPP_MIN_LOG_LEVEL given to make wins.
TF_LOG_LEVEL_GIVEN := $(filter environment% command%,$(origin TF_CPP_MIN_LOG_LEVEL))
export TF_CPP_MIN_LOG_LEVEL ?= 2
floor user bench: export TF_CPP_MIN_LOG_LEVEL := $(if $(TF_LOG_LEVEL_GIVEN),$(TF_CPP_MIN_LOG_LEVEL),3)

# Disk (`du -sh .venv*` after `make test` here): .venv/ 4.3 GB; the side environments below
# (floor, notf, user, tutorials) 9 GB more. With PRUNE_ENVIRONMENTS=1 (.ci/run sets it: CI's
# disk is small, and the run of stop 49 ran out of it) each is removed once its tests pass.
PRUNE_ENVIRONMENTS ?= 0
PRUNING := $(filter 1,$(PRUNE_ENVIRONMENTS))
prune = $(if $(PRUNING),rm -rf $(1))

.PHONY: demo test pytest quick floor notf user tutorials lint format docs docs-check bench reproduce install

# The oldest supported versions (pyproject.toml's floors), tested in a second environment.
# The oldest Python that runs here (pyenv's 3.10 if installed), else python3.
FLOOR_PYTHON ?= $(shell for p in $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) python3.10 python3; do \
	$$p -c "" 2>/dev/null && echo $$p && break; done)
FLOOR_PINS := "tensorflow==2.16.2" "keras==3.7.0" "numpy<2"
FLOOR := .venv-floor
FLOOR_TESTS := tests/core/test_core.py tests/core/test_sampling.py tests/core/test_mixing.py \
	tests/core/test_elements.py tests/core/test_labels.py tests/core/test_float_class_ids.py \
	tests/fronts/test_transform.py tests/fronts/test_layer.py tests/fronts/test_loss_and_metric.py \
	tests/fronts/test_checkpoint.py tests/fronts/test_schedule.py tests/fronts/test_sequence_masks.py \
	tests/methods/test_family.py tests/methods/test_ablation_options.py tests/methods/test_fmix.py \
	tests/methods/test_smoothmix.py tests/methods/test_resizemix.py tests/methods/test_c_mixup.py \
	tests/methods/test_mosaic.py \
	tests/paper/test_prediction.py keras_mixup

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[tensorflow,examples,dev,backends,docs]"
	touch $@

demo: $(STAMP)
	$(BIN)/python examples/label_noise_demo.py

test: lint pytest floor notf user tutorials

pytest: $(STAMP)
	$(BIN)/python -m pytest -x -q --durations=15

# A contributor's loop: everything but the tests marked slow (tests/conftest.py).
quick: $(STAMP)
	$(BIN)/python -m pytest -x -q -m "not slow" --durations=10

floor: $(FLOOR)/.installed-stamp
	$(FLOOR)/bin/python -c "import sys, tensorflow as tf, keras; print('floor: Python', sys.version.split()[0], 'TensorFlow', tf.__version__, 'Keras', keras.__version__)"
	$(FLOOR)/bin/python -m pytest -x -q -p no:cacheprovider $(FLOOR_TESTS)
	$(call prune,$(FLOOR))

$(FLOOR)/.installed-stamp: pyproject.toml
	$(FLOOR_PYTHON) -m venv $(FLOOR)
	$(FLOOR)/bin/python -m pip install -q --upgrade pip
	$(FLOOR)/bin/python -m pip install -q -e ".[tensorflow]" $(FLOOR_PINS) pytest hypothesis scipy scikit-learn matplotlib
	touch $@

# A third environment without TensorFlow: keras, NumPy, JAX (CPU) and Grain only. The layer,
# loss, metric, schedules, predictor, FGSM evaluator and the NumPy / Grain transform must work
# there (TensorFlow is imported only by keras_mixup's tf.data front, on first use).
NOTF := .venv-notf
notf: $(NOTF)/.installed-stamp
	KERAS_MIXUP_REQUIRE_NO_TENSORFLOW=1 KERAS_BACKEND=jax $(NOTF)/bin/python -m pytest -x -q -p no:cacheprovider tests/no_tensorflow tests/integration/test_fuzz.py
	$(call prune,$(NOTF))

$(NOTF)/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv $(NOTF)
	$(NOTF)/bin/python -m pip install -q --upgrade pip
	$(NOTF)/bin/python -m pip install -q -e ".[dev]" "jax[cpu]"
	$(NOTF)/bin/python -c "import importlib.util, sys; sys.exit('TensorFlow is installed in $(NOTF)' if importlib.util.find_spec('tensorflow') else 0)"
	touch $@

# A user's install: a fresh environment with only `pip install ".[tensorflow]"` (no dev, docs or
# example extras), then the README's first snippet run as written.
USER_VENV := .venv-user
user: $(USER_VENV)/.installed-stamp
	$(USER_VENV)/bin/python -m pip install -q --no-deps --force-reinstall .  # this checkout's code
	cd $(USER_VENV) && ./bin/python ../tests/readme_snippets.py ../README.md --block 1
	$(call prune,$(USER_VENV))

$(USER_VENV)/.installed-stamp: pyproject.toml
	rm -rf $(USER_VENV)
	$(PYTHON) -m venv $(USER_VENV)
	$(USER_VENV)/bin/python -m pip install -q --upgrade pip
	$(USER_VENV)/bin/python -m pip install -q ".[tensorflow]"
	touch $@

# Each tutorial's `Install:` line in a fresh environment of its own (one per distinct line,
# under .venv-tutorials/, reused while the line and pyproject.toml are unchanged), then the
# tutorial's set-up (its imports) run there: a line that misses a package fails here.
tutorials:
	$(PYTHON) tests/tutorial_setup.py --environments .venv-tutorials \
		$(if $(PRUNING),--prune)

lint: $(STAMP)
	$(BIN)/ruff check keras_mixup tests examples benchmarks
	$(BIN)/ruff format --check keras_mixup tests examples benchmarks

format: $(STAMP)
	$(BIN)/ruff format keras_mixup tests examples benchmarks
	$(BIN)/ruff check --fix keras_mixup tests examples benchmarks

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

docs-check: $(STAMP)
	KERAS_MIXUP_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/integration/test_docs_site.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks --output benchmarks/results --plot docs/benchmarks_throughput.png

reproduce: $(STAMP)
	$(BIN)/python -m examples.paper.reproduce
