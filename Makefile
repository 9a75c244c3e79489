# `make run` starts the whole platform; `make test` installs everything and runs every check.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Extra pip arguments for the one torch install, e.g. an index of CPU-only builds on a machine without them.
TORCH_PIP_ARGS ?=

export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

MODEL := model_repository/sentiment_emotion/1/manifest.json

.PHONY: install system-deps test-deps services migrate model triton run dashboard dashboard-test lint typecheck test bench bench-inference bench-accuracy bench-pipeline clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and exactly: any looser request lets pip pull a several-GB CUDA build
	$(BIN)/pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ml,embedded,dev]'
	touch $@

install: $(VENV)/.installed

# Debian packages: libpython3.11, which the embedded Triton's Python backend stub runs on.
system-deps:
	@ldconfig -p | grep -q 'libpython3\.11\.so\.1\.0' \
		|| { apt-get update -qq && apt-get install -y -qq libpython3.11 >/dev/null; }

# What only the tests need: docker-compose, to validate the Compose files, nginx, to serve the dashboard as
# its image does (tests/test_nginx.py), and Chromium, for the dashboard's tests in a real browser.
test-deps: system-deps
	@command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
	@PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The machine's PostgreSQL and Redis, started when they are down (and left running).
services: install
	$(BIN)/python -m services.launcher services

migrate: install services
	$(BIN)/python -m services.common.db.migrate

# The bundled model, exported to ONNX and laid out for Triton; rebuilt when the weights or the export change.
$(MODEL): $(VENV)/.installed $(wildcard export/weights/*) $(wildcard export/*.py)
	$(BIN)/python -m export build --repository model_repository

model: $(MODEL)

# The embedded Triton server in the foreground (gRPC on 127.0.0.1:8001) until Ctrl-C.
triton: system-deps model
	$(BIN)/python -m services.launcher.tritonserver --repository model_repository --log-file tritonserver.log

# The whole platform in the foreground until Ctrl-C (services/launcher/, docs/running.md): PostgreSQL and Redis (started
# when down), migrations, the embedded Triton, WORKERS workers (/metrics and /health on 9100, 9101, ...),
# the API on 8000, the synthetic ingester; a log per service in logs/.
WORKERS ?= 2
run: install model system-deps dashboard
	$(BIN)/python -m services.launcher --workers $(WORKERS)

# The dashboard (frontend/): its packages as the lock file has them, then the production build, which
# `make run` serves on 3000; rebuilt when a source changes.
FRONTEND_SOURCES := $(shell find frontend/src -type f) frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build
dashboard: frontend/dist/index.html

# The dashboard's own checks: its generated types are current, TypeScript, ESLint and the Vitest unit tests.
dashboard-test: frontend/node_modules/.package-lock.json contract-check
	cd frontend && npm run typecheck && npm run lint && npm test

# The dashboard's types of the REST API and the WebSocket events (frontend/src/generated/), generated from the
# Python models (services/backend/contract.py): `make contract` rewrites them; `make contract-check` fails
# when the committed ones differ from what the models give now.
.PHONY: contract contract-check duplicates
CONTRACT_PYTHON = PYTHON=$(abspath $(BIN)/python)
contract: install frontend/node_modules/.package-lock.json
	cd frontend && $(CONTRACT_PYTHON) npm run generate
contract-check: install frontend/node_modules/.package-lock.json
	@fresh=$$(mktemp -d) && trap 'rm -rf "$$fresh"' EXIT && cd frontend \
		&& $(CONTRACT_PYTHON) node scripts/generate.mjs "$$fresh" && diff -ru src/generated "$$fresh" \
		|| { echo "frontend/src/generated/ is stale (or could not be generated): run make contract"; exit 1; }

# Duplicated code over services/, frontend/src/, export/, benchmarks/ and tests/ (jscpd, .jscpd.json: six
# lines or more): prints the clones and their count, and fails when duplicated lines pass its threshold (%).
duplicates: frontend/node_modules/.package-lock.json
	frontend/node_modules/.bin/jscpd

# The hash-locked requirements the images install (requirements/, docs/running.md), resolved from
# pyproject.toml on PyPI for the images' platform (CPython 3.11, linux x86_64, wheels only), keeping each pin
# that still fits (UPGRADE=1: the newest that fit). runtime.txt: the dependencies and what building the
# project needs; export.txt: the same with the ml extra, less torch, which the export image takes from
# PyTorch's CPU index. TORCH_FIND_LINKS: where that CPU build is found, so that its dependencies (not the CUDA
# ones of PyPI's torch) are locked; pip's own PIP_FIND_LINKS when set (a machine with the wheel on disk).
# It uses the uv of `make install` without depending on it: tests/test_lock.py runs it, and must not
# reinstall the virtualenv.
.PHONY: lock
LOCK_DIR ?= requirements
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --only-binary :all: --custom-compile-command 'make lock' \
	$(if $(UPGRADE),--upgrade) pyproject.toml -
BUILD_REQUIRES = $(BIN)/python -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
lock:
	$(BUILD_REQUIRES) | $(UV_COMPILE) -o $(LOCK_DIR)/runtime.txt
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra ml --no-emit-package torch \
		$(addprefix --find-links ,$(TORCH_FIND_LINKS)) -o $(LOCK_DIR)/export.txt
	@! grep -qE '^(nvidia-|cuda-|triton==)' $(LOCK_DIR)/export.txt || { \
		echo "$(LOCK_DIR)/export.txt: torch's CUDA build was locked: no CPU build at $(TORCH_FIND_LINKS)"; exit 1; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install test-deps services model lint typecheck dashboard dashboard-test duplicates
	$(BIN)/pytest

# Benchmarks: each prints a table, writes benchmarks/results/<name>.json and its section of RESULTS.md.
bench-inference: install system-deps
	$(BIN)/python -m benchmarks.inference

# Accuracy on the labelled dev files (not part of a user's clone: DATA says where they are).
DATA ?= ../shared/data
bench-accuracy: install
	$(BIN)/python -m benchmarks.accuracy --data $(DATA)

bench-pipeline: install system-deps services model
	$(BIN)/python -m benchmarks.pipeline

# Every CPU benchmark, in about 15 minutes on 2 cores (not accuracy: it retrains; not the GPU script), then
# the plots. The API benchmarks run on 1,000,000 posts in the sentiment_bench database (seeded first).
bench: install system-deps test-deps services model dashboard bench-inference bench-pipeline
	$(BIN)/python -m benchmarks.seed
	$(BIN)/python -m benchmarks.api_queries --label after
	$(BIN)/python -m benchmarks.writes
	$(BIN)/python -m benchmarks.load
	$(BIN)/python -m benchmarks.fanout
	$(BIN)/python -m benchmarks.dashboard
	$(BIN)/python -m benchmarks.plots

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
