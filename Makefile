# Two commands on a fresh machine (Python >= 3.11 with venv):
#   make demo   install into .venv, start a local server, solve a generated problem through it
#   make test   install into .venv, run the test suite
# The install takes the exact versions in requirements.lock (hash-checked);
# `make lock` refreshes that file from pyproject.toml's ranges and re-runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
# The image's lock: the runtime dependencies only, at the versions of $(LOCK).
RUNTIME_LOCK := deploy/requirements.lock
# The lock tool, in a venv of its own (only `make lock` needs it).
UV_VERSION := 0.13.8
LOCK_VENV := .lock-venv

.PHONY: demo test lint docs install proto lock image

demo: install
	$(BIN)/qsched demo

test: install
	$(BIN)/python -m pytest

# ruff (lint and format) and mypy (strict over every source line of the product, laid out
# as it installs by tools/typecheck_tree.py), as configured in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/typecheck_tree.py
	$(BIN)/mypy

# The documentation site (mkdocs.yml) into build/site, offline; any warning fails it. The API
# pages read the package laid out as it installs; the CLI reference, the options table and
# the benchmark reports are generated as it builds (tools/docs_gen.py).
docs: install
	$(BIN)/python tools/typecheck_tree.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	$(BIN)/python -m pip check
	# Compile the numba kernels once; they are cached next to the sources (__pycache__).
	$(BIN)/qsched solve datasets/examples/gen-8x3-s1.json --solver local-search --evaluations 2000 >/dev/null
	$(BIN)/qsched solve datasets/examples/gen-8x3-s1.json --solver tabu-search --evaluations 2000 >/dev/null
	touch $@

# Newest versions pyproject.toml allows, for every platform, one version each,
# with hashes (setuptools: the build backend, for the offline editable install);
# the image's runtime lock at the same versions; then a fresh .venv from it and the suite.
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	printf 'setuptools>=77\n' | $(LOCK_VENV)/bin/uv pip compile pyproject.toml - --extra bench --extra testing --extra test --extra lint --extra docs \
		--universal --fork-strategy fewest --python-version 3.11 --generate-hashes --upgrade \
		--custom-compile-command 'make lock' --output-file $(LOCK)
	printf 'setuptools>=77\n' | $(LOCK_VENV)/bin/uv pip compile pyproject.toml - --constraints $(LOCK) \
		--universal --fork-strategy fewest --python-version 3.11 --generate-hashes \
		--custom-compile-command 'make lock' --output-file $(RUNTIME_LOCK)
	rm -rf $(VENV)
	$(MAKE) test

# deploy/Dockerfile as $(IMAGE), with docker or buildah (tools/build_image.sh says how).
IMAGE ?= ghcr.io/qsched/qsched:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
image:
	tools/build_image.sh $(IMAGE)

# Regenerate qsched/v1 after editing proto/ (tests fail on drift).
proto: install
	$(BIN)/python tools/gen_proto.py
