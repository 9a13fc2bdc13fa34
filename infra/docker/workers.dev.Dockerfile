# Dev image of the workers app (one stage, every dependency including the check tools, sources and tests): what a
# team ships before multi-stage builds. Built only to measure what the production Dockerfile saves.
ARG PYTHON_BUILDER=shipyard/python-builder:3.11
FROM ${PYTHON_BUILDER}
WORKDIR /app
# the build has no network: Shipyard fetches the packages the lock files name into .shipyard-prefetch/workers/
COPY .shipyard-prefetch/workers/ /prefetch/
COPY apps/workers/ ./
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /prefetch/pip -r requirements.lock
ENV PATH=/opt/venv/bin:$PATH
USER 1001:1001
CMD ["python3", "-m", "workers"]
