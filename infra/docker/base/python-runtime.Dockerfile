# Runtime base for the Python apps, distroless-style: Debian's python3, its standard library (without tests, IDLE,
# tkinter, ensurepip) and exactly the shared libraries they load, on an empty image. No shell, no package manager;
# runs as the app user, UID 1001.
ARG DEBIAN_BASE=shipyard/debian:bookworm
FROM ${DEBIAN_BASE} AS debian
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY collect-runtime.sh /collect-runtime.sh
RUN sh /collect-runtime.sh /rootfs /usr/bin/python3 /usr/lib/python3.11 \
    && cd /rootfs/usr/lib/python3.11 \
    && rm -rf test idlelib tkinter turtledemo ensurepip lib2to3 config-3.11-x86_64-linux-gnu \
    && find . -name __pycache__ -prune -exec rm -rf {} +

FROM scratch
COPY --from=debian /rootfs/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8
USER 1001:1001
CMD ["python3"]
