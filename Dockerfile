# One image for the Python services (ingester, worker, backend, one-shot steps); the command picks the service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

WORKDIR /app
RUN useradd --create-home --uid 10001 app

# Dependencies in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir services export && touch services/__init__.py export/__init__.py \
    && pip install . && pip uninstall --yes sentiment-platform

COPY services ./services
RUN pip install --no-deps .

USER app
