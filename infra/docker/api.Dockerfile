# Production image of the api app: dependencies are installed in the builder stage, only the virtualenv and the
# app's code reach the runtime stage, which runs as UID 1001 and works with a read-only root filesystem.
ARG PYTHON_BUILDER=shipyard/python-builder:3.11
ARG PYTHON_RUNTIME=shipyard/python-runtime:3.11

FROM ${PYTHON_BUILDER} AS builder
WORKDIR /build
# the build has no network: Shipyard fetches the packages the lock files name into .shipyard-prefetch/api/
COPY .shipyard-prefetch/api/ /prefetch/
COPY apps/api/requirements.runtime.lock ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /prefetch/pip -r requirements.runtime.lock \
    && /opt/venv/bin/pip uninstall --yes --quiet pip
COPY apps/api/ ./

FROM ${PYTHON_RUNTIME}
# uvicorn reads UVICORN_*: loopback by default (host networking here), override with -e UVICORN_HOST/PORT.
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UVICORN_HOST=127.0.0.1 UVICORN_PORT=8000
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /build/api ./api
COPY --from=builder /build/alembic.ini ./
COPY --from=builder /build/migrations ./migrations
USER 1001:1001
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"UVICORN_PORT\"]}/health', timeout=2)"]
CMD ["uvicorn", "api.main:create_app", "--factory"]
