# factmem: one uvicorn worker, the converted model baked in, the memory in a volume; runs in 256 MB.
#
#   docker build -t factmem .
#   docker run --rm -p 8000:8000 --memory=256m -v factmem-data:/data factmem
#
# PYTHON_IMAGE is any Debian-based image with Python 3.11+ (python3 and its venv module) on the PATH.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.txt pyproject.toml README.md ./
COPY backend ./backend
# The pinned dependencies, then the project itself as a regular (not editable) install.
RUN python3 -m venv /opt/venv \
 && grep -v '^-e ' requirements.txt > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --requirement /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-deps . \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +
# The model is converted here, at build time: a first start in a small container never converts it.
ENV MODEL_DIR=/opt/factmem/model
RUN /opt/venv/bin/python -m factmem prepare-model

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin factmem \
 && mkdir -p /app /data && chown factmem:factmem /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/factmem/model /opt/factmem/model
COPY backend/api_server.py /app/api_server.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    MODEL_DIR=/opt/factmem/model
USER factmem
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8000
# /health reads /proc and the cgroup files only; python -I -S keeps the probe itself small (~9 MB, 0.1 s).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-I", "-S", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
# One worker by design: the embedded shard belongs to one process and each worker would load its own model.
CMD ["python", "/app/api_server.py"]
