# A host for chaoskit's ssh runtime, for tests and local trials: sshd, iptables, tc,
# libfaketime, python3 with chaoskit (so the reference nodes run on it), a root login
# and a user `chaos` with password-less sudo. Keys are given at run time:
#   docker run -e CHAOSKIT_AUTHORIZED_KEY="ssh-ed25519 AAAA..." --cap-add NET_ADMIN \
#       -p 127.0.0.1::22 chaoskit-sshhost
# Host keys are made fresh when a container starts (each host is a new machine).
# BASE_IMAGE: Debian-like with python3 (>= 3.11) and venv. Offline builds put the .deb
# files of openssh-server and sudo (and whatever they need beyond the base) in debs/
# of the build context (.ci/docker-setup.sh does); without them apt-get fetches them.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

COPY debs/ /tmp/debs/
RUN set -e; \
    if ls /tmp/debs/*.deb >/dev/null 2>&1; then \
        DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/debs/*.deb; \
    fi; \
    if ! command -v sshd >/dev/null || ! command -v sudo >/dev/null \
        || ! command -v iptables >/dev/null || ! command -v tc >/dev/null \
        || ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            openssh-server sudo iptables iproute2 libfaketime; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    rm -rf /tmp/debs /etc/ssh/ssh_host_*; \
    python3 -m venv /opt/chaoskit; \
    useradd --create-home --shell /bin/sh chaos; \
    usermod -p '*' chaos; \
    echo 'chaos ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/chaos; \
    chmod 440 /etc/sudoers.d/chaos; \
    printf '%s\n' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' \
        'PermitRootLogin prohibit-password' 'UsePAM no' 'MaxSessions 64' 'MaxStartups 64' \
        'UseDNS no' > /etc/ssh/sshd_config.d/chaoskit.conf

COPY wheels/deps/ /tmp/wheels/deps/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels/deps \
        -r /tmp/wheels/deps/requirements.txt \
    && rm -rf /tmp/wheels/deps
COPY wheels/chaoskit/ /tmp/wheels/chaoskit/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --no-deps /tmp/wheels/chaoskit/*.whl \
    && rm -rf /tmp/wheels
COPY sshhost_entry.sh /usr/local/sbin/chaoskit-sshhost
RUN chmod 755 /usr/local/sbin/chaoskit-sshhost

LABEL chaoskit=1 chaoskit.role=sshhost
EXPOSE 22
CMD ["/usr/local/sbin/chaoskit-sshhost"]
