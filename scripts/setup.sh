#!/usr/bin/env bash
# Set up chaoskit on a fresh Debian/Ubuntu machine: system packages (when root),
# a virtual environment in .venv with chaoskit (editable) and its test extras.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests and the optional features use:
#   socat        benchmark baseline for the fault proxy
#   faketime     libfaketime, for the clock nemeses
#   etcd-server  the etcd targets;  zookeeper: the zookeeper targets
#   nats-server  the nats target (NATS JetStream 2.9)
#   patroni, postgresql: the patroni target (with etcd-server as its store)
#   chromium     headless browser tests of the HTML reports
#   docker.io, debootstrap, iptables: the Docker runtime (images built offline)
#   iproute2     `ip`, for the proxy test that runs in a network namespace of its own
#   fuse3 (fusermount3), libfuse3-dev, pkg-config, gcc: disk faults; pyfuse3 builds
#                from PyPI against libfuse3
PACKAGES=(socat faketime etcd-server zookeeper nats-server patroni postgresql chromium
          docker.io debootstrap iptables iproute2 make fuse3 libfuse3-dev pkg-config gcc)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: not root, skipping system packages: ${missing[*]} (features needing them will say so)"
  fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# The disk extra (pyfuse3) compiles against libfuse3: only where its headers are.
EXTRAS=test
IMPORTS="import chaoskit, pytest, xdist"
if pkg-config --exists fuse3 2>/dev/null; then
  EXTRAS=test,disk
  IMPORTS="$IMPORTS, pyfuse3"
else
  echo "setup: libfuse3 headers missing, skipping the disk extra (disk faults will say so)"
fi
if ! .venv/bin/python -c "$IMPORTS" 2>/dev/null \
   || [[ pyproject.toml -nt .venv/.installed ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[$EXTRAS]"
  touch .venv/.installed
fi
echo "setup: ready (.venv/bin/chaoskit)"
