# The image Docker work-pool flow runs execute in: Shipyard and its flows installed, git for checkouts, bubblewrap
# for the sandbox every command of the repository under check runs in, Python 3.11 (the sample's Python toolchain).
# Built by `shipyard images worker` from a context holding only Shipyard's source; not part of the sample.
ARG PYTHON_BUILDER=shipyard/python-builder:3.11
FROM ${PYTHON_BUILDER}
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/shipyard
# Dependencies first, each distribution checked against its pinned sha256 (scripts/pin_requirements.py worker), wheels
# only (an sdist's build would fetch its build requirements unhashed), in a layer of their own: a change to
# Shipyard's sources rebuilds only the layer below. The file is the whole resolved set, so pip installs exactly it
# (--no-deps) and `pip check` confirms nothing is missing: resolving again would look past a pin for an extra such
# as prefect's httpx[http2] once a newer release exists, and refuse it unhashed (pip issues #9644, #12345).
COPY requirements/worker.txt requirements/worker.txt
RUN python3 -m venv /opt/shipyard/venv \
    && /opt/shipyard/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: --no-deps \
        -r requirements/worker.txt \
    && /opt/shipyard/venv/bin/pip check
COPY pyproject.toml README.md prefect.yaml ./
COPY shipyard/ shipyard/
COPY cli/ cli/
COPY flows/ flows/
COPY tasks/ tasks/
COPY deployments/ deployments/
# No build isolation: the build backend is one of the pinned distributions above, not a fresh, unpinned download.
RUN /opt/shipyard/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation .
ENV PATH=/opt/shipyard/venv/bin:$PATH PYTHONUNBUFFERED=1 SHIPYARD_SOURCE=/opt/shipyard SHIPYARD_HOME=/tmp/shipyard \
    HOME=/tmp
# Flow runs need no root: everything they write goes under /tmp (SHIPYARD_HOME, caches); the source is read-only.
USER 1001:1001
