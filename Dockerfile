# Images for the Python services. Two targets:
#   runtime  the services (ingester, worker, backend, migrations): no torch
#   export   the one-shot model export into Triton's repository: torch (CPU build), transformers, the encoder
# Each installs its dependencies from a hash-locked file of requirements/ (`make lock`, docs/running.md), with
# --no-deps so that nothing outside the lock is fetched, and then the project, built by the locked setuptools.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1
WORKDIR /app
RUN useradd --create-home --uid 10001 app

FROM base AS runtime
# Dependencies in their own layer: rebuilt only when the lock changes.
COPY requirements/runtime.txt requirements/
RUN pip install --require-hashes --no-deps --only-binary :all: -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip install --no-deps --no-build-isolation . && pip check
USER app

FROM base AS export
# torch is pinned exactly but not hash-locked: its CPU build comes from PyTorch's own index, whose wheels
# (2.13.0+cpu) are not the files PyPI serves, which are what the lock's hashes name, and PyPI's torch would
# bring several GB of CUDA libraries this step never uses. --no-deps: its dependencies are in the lock.
RUN pip install --no-deps --index-url https://download.pytorch.org/whl/cpu torch==2.13.0+cpu
COPY requirements/export.txt requirements/
RUN pip install --require-hashes --no-deps --only-binary :all: -r requirements/export.txt
COPY pyproject.toml README.md ./
COPY services ./services
COPY export ./export
RUN pip install --no-deps --no-build-isolation . && pip check && mkdir /models && chown app /models
USER app
