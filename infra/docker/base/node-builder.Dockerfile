# Builder base for the Node apps: nodejs and npm, and the CA certificates this network's HTTPS needs.
ARG DEBIAN_BASE=shipyard/debian:bookworm
FROM ${DEBIAN_BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false
