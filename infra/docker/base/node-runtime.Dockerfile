# Runtime base for the Node apps, distroless-style: Debian's nodejs, the builtins Debian keeps outside the binary
# (/usr/share/nodejs) and exactly the shared libraries they load, on an empty image. No shell, no package manager;
# runs as the app user, UID 1001.
ARG DEBIAN_BASE=shipyard/debian:bookworm
FROM ${DEBIAN_BASE} AS debian
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY collect-runtime.sh /collect-runtime.sh
RUN sh /collect-runtime.sh /rootfs /usr/bin/node /usr/share/nodejs

FROM scratch
COPY --from=debian /rootfs/ /
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8
USER 1001:1001
CMD ["node"]
