# A chaoskit reference node (chaoskit.targets.raft, chaoskit.targets.bully) or any target installed
# with chaoskit. The command is given at run time, for example:
#   docker run chaoskit-node python -m chaoskit.targets.raft --id n1 --listen 0.0.0.0:8000 ...
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11) and its venv module; the
# offline CI base (debootstrap) already has iptables, iproute2 and libfaketime, a
# stock python image gets them from apt here. /opt/chaoskit/libfaketime.so.1 names
# libfaketime whatever the architecture: the clock nemeses preload it in nodes.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN set -e; \
    if ! command -v iptables >/dev/null || ! command -v tc >/dev/null \
        || ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            iptables iproute2 libfaketime; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -m venv /opt/chaoskit; \
    ln -s "$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1)" /opt/chaoskit/libfaketime.so.1

# Dependencies first, in their own layer: they change far less often than chaoskit.
COPY wheels/deps/ /tmp/wheels/deps/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels/deps \
        -r /tmp/wheels/deps/requirements.txt \
    && rm -rf /tmp/wheels/deps
COPY wheels/chaoskit/ /tmp/wheels/chaoskit/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --no-deps /tmp/wheels/chaoskit/*.whl \
    && rm -rf /tmp/wheels

ENV PATH=/opt/chaoskit/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
LABEL chaoskit=1 chaoskit.role=node
WORKDIR /data
CMD ["python", "-m", "chaoskit.targets.raft", "--help"]
