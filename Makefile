# `make run` starts the platform (what exists so far); `make test` installs everything and runs every check.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Extra pip arguments for the one torch install, e.g. an index of CPU-only builds on a machine without them.
TORCH_PIP_ARGS ?=

export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install system-deps services migrate run lint typecheck test clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and exactly: any looser request lets pip pull a several-GB CUDA build
	$(BIN)/pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ml,embedded,dev]'
	touch $@

install: $(VENV)/.installed

# Debian packages the tests use: docker-compose (to validate the Compose files).
system-deps:
	@command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }

services:
	./scripts/ensure-services.sh

migrate: install services
	$(BIN)/python -m services.common.db.migrate

run: migrate
	@echo "Database migrated and ready; Redis up. The pipeline, API and dashboard join as they are built."

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install system-deps services lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
