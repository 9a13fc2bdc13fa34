#!/usr/bin/env bash
# The Debian packages Shipyard needs, installed with apt only when something is missing (idempotent), for:
#   demo  what `make demo` needs (git, Python 3.11, Node.js + npm, PostgreSQL's server, HAProxy)
#   test  all of demo's, plus what the whole test suite needs (Docker engine, registry, debootstrap, Chromium,
#         promtool, amtool, docker-compose), and a running Docker engine without bridge networks
# Used by the Makefile (`make demo`, `make test`) and by .ci/run. Without root and without sudo it changes
# nothing and prints the one command to run.
set -euo pipefail
purpose=${1:-test}
case "$purpose" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac

missing=()
need() { # need COMMAND-TEST PACKAGE...
  if ! eval "$1" >/dev/null 2>&1; then missing+=("${@:2}"); fi
}
need "command -v git" git
need "command -v make" make
need "command -v node" nodejs
need "command -v npm" npm
need "command -v python3.11" python3.11 python3.11-venv
need "python3.11 -c 'import ensurepip'" python3.11-venv
need "command -v initdb || ls /usr/lib/postgresql/*/bin/initdb" postgresql
need "command -v haproxy" haproxy
need "command -v ssh-keygen" openssh-client
need "command -v bwrap" bubblewrap        # the sandbox every command from a repository under check runs in
if [ "$purpose" = test ]; then
  need "command -v dockerd" docker.io
  need "command -v docker-registry" docker-registry
  need "command -v debootstrap" debootstrap
  need "test -x /usr/bin/chromium" chromium
  need "command -v promtool" prometheus                   # checks the monitoring config
  need "command -v amtool" prometheus-alertmanager        # checks Alertmanager's
  need "command -v docker-compose" docker-compose         # validates the production compose stack
fi
# one name once, in order
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    as=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as=(sudo -n)
  else
    echo "system-deps: missing Debian packages for '$purpose': ${missing[*]}" >&2
    echo "system-deps: run this once as root, then again: apt-get install -y ${missing[*]}" >&2
    exit 3
  fi
  echo "system-deps: installing for '$purpose': ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as[@]}" apt-get update -q -o DPkg::Lock::Timeout=600
  # another apt (unattended upgrades, a second make) may hold the lock: wait for it rather than fail
  "${as[@]}" apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
  # Debian starts the packaged services on install; Shipyard starts its own on 127.0.0.1 and needs none of them.
  for service in haproxy postgresql docker-registry prometheus prometheus-alertmanager prometheus-node-exporter; do
    "${as[@]}" systemctl stop "$service" >/dev/null 2>&1 || "${as[@]}" service "$service" stop >/dev/null 2>&1 || true
  done
  echo "system-deps: installed"
fi

if [ "$purpose" = test ] && ! docker info >/dev/null 2>&1; then
  # No bridge networks: containers use the host's network (ENVIRONMENT.md). Left running on purpose: it is the
  # machine's engine, not the test run's, and the base images it keeps make the next run faster.
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: no Docker engine answers; start one as root: dockerd --bridge=none --iptables=false --ip-masq=false &" >&2
    exit 3
  fi
  log=${SHIPYARD_HOME:-$HOME/.shipyard}/dockerd.log
  mkdir -p "$(dirname "$log")"
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if ! docker info >/dev/null 2>&1; then
    echo "system-deps: dockerd did not answer within 60 s; its log: $log" >&2
    tail -20 "$log" >&2
    exit 4
  fi
  echo "system-deps: started dockerd (pid $(pgrep -xo dockerd)), left running on purpose; log: $log"
fi
