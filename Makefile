# Two commands on a fresh machine (Python >= 3.11 with venv):
#   make demo   install into .venv, start a local server, solve a generated problem through it
#   make test   install into .venv, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install proto

demo: install
	$(BIN)/qsched demo

test: install
	$(BIN)/python -m pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Regenerate qsched/v1 after editing proto/ (tests fail on drift).
proto: install
	$(BIN)/python tools/gen_proto.py
