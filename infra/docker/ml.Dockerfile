# Production image of the ml app: dependencies are installed in the builder stage, only the virtualenv and the
# app's code reach the runtime stage, which runs as UID 1001 and works with a read-only root filesystem.
ARG PYTHON_BUILDER=shipyard/python-builder:3.11
ARG PYTHON_RUNTIME=shipyard/python-runtime:3.11

FROM ${PYTHON_BUILDER} AS builder
WORKDIR /build
# the build has no network: Shipyard fetches the packages the lock files name into .shipyard-prefetch/ml/
COPY .shipyard-prefetch/ml/ /prefetch/
COPY apps/ml/requirements.runtime.lock ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /prefetch/pip -r requirements.runtime.lock \
    && /opt/venv/bin/pip uninstall --yes --quiet pip
COPY apps/ml/ ./

FROM ${PYTHON_RUNTIME}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /build/ml ./ml
USER 1001:1001
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["python3", "-c", "import ml"]
CMD ["python3", "-m", "ml"]
