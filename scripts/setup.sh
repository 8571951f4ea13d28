#!/usr/bin/env bash
# Set up chaoskit on a fresh Debian/Ubuntu machine: system packages (when root),
# a virtual environment in .venv with chaoskit (editable) and its test extras.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests and the optional features use:
#   socat        benchmark baseline for the fault proxy
#   faketime     libfaketime, for the clock nemeses
#   etcd-*       the etcd target;  zookeeper: the zookeeper target
#   nats-server  the nats target (NATS JetStream 2.9)
#   patroni, postgresql: the patroni target (with etcd-server as its store)
#   chromium     headless browser tests of the HTML reports
#   docker.io, debootstrap, iptables: the Docker runtime (images built offline)
PACKAGES=(socat faketime etcd-server etcd-client zookeeper nats-server patroni postgresql
          chromium chromium-driver docker.io debootstrap iptables iproute2 make)
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
if ! .venv/bin/python -c "import chaoskit, pytest, xdist" 2>/dev/null \
   || [[ pyproject.toml -nt .venv/.installed ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  touch .venv/.installed
fi
echo "setup: ready (.venv/bin/chaoskit)"
