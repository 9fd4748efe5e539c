# syntax=docker/dockerfile:1
# One image for every Signet service; the command chooses which one runs:
#   docker run IMAGE python -m services.router      (ingest, portal, router, dispatcher, alerter)
#   docker run IMAGE signet topics ensure
# The Helm chart (deploy/helm/signet) runs it as UID 10001 with a read-only root filesystem.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels of Signet and its runtime dependencies (no dev extra) ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk/python ./sdk/python
COPY signet ./signet
COPY services ./services
# Signet needs signet-sdk (sdk/python), built from this tree, not taken from an index.
RUN pip wheel --wheel-dir /wheels ./sdk/python .

# --- runtime: the wheels installed into a clean slim image, nothing else -----------------
FROM ${PYTHON_IMAGE} AS runtime
# MALLOC_ARENA_MAX: librdkafka's threads would each grow their own glibc malloc arena.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 signet \
 && useradd --system --uid 10001 --gid signet --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin signet
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels signet
WORKDIR /app
USER 10001:10001
EXPOSE 8080 8081 8082 8083 6066
CMD ["signet", "--help"]
