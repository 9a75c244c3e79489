# Images for the Python services. Two targets:
#   runtime  the services (ingester, worker, backend, migrations): no torch
#   export   the one-shot model export into Triton's repository: torch (CPU build), transformers, the encoder
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1
WORKDIR /app
RUN useradd --create-home --uid 10001 app
# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir services export && touch services/__init__.py export/__init__.py

FROM base AS runtime
RUN pip install . && pip uninstall --yes sentiment-platform
COPY services ./services
RUN pip install --no-deps .
USER app

FROM base AS export
# The CPU build of torch: the default one on PyPI carries several GB of CUDA libraries this step never uses.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install '.[ml]' && pip uninstall --yes sentiment-platform
COPY services ./services
COPY export ./export
RUN pip install --no-deps . && mkdir /models && chown app /models
USER app
