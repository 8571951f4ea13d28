#!/usr/bin/env bash
# Prepare everything the Docker tests need, offline (no image registry reachable):
#   1. the engine (docker.io), Compose v1 (Debian's docker-compose 1.29) and Compose v2
#      (the `docker compose` plugin, taken from Debian trixie's docker-compose package,
#      which is a static Go binary), installed when absent;
#   2. dockerd running (started in the background when `docker info` fails);
#   3. the base image chaoskit-base:bookworm, made with debootstrap + docker import
#      (the root filesystem tarball is cached under /var/cache/chaoskit);
#   4. wheels of chaoskit and all its dependencies, built on the host;
#   5. the node and proxy images, built from those wheels on that base;
#   6. the SSH host image (tests of the ssh runtime): the same wheels, plus the .deb
#      files of openssh-server and sudo that the base lacks, downloaded by apt here.
# Idempotent: a second run only rebuilds the chaoskit wheel and the last image layers.
#
# Environment: CHAOSKIT_CACHE (default /var/cache/chaoskit), CHAOSKIT_BASE_IMAGE
# (default chaoskit-base:bookworm), CHAOSKIT_DEBIAN_MIRROR (default: apt's own mirror),
# PYTHON (default: the repository's .venv).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CHAOSKIT_CACHE:-/var/cache/chaoskit}"
BASE_IMAGE="${CHAOSKIT_BASE_IMAGE:-chaoskit-base:bookworm}"
SUITE=bookworm
INCLUDE=python3,python3-pip,python3-venv,iproute2,iptables,faketime,libfaketime
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
DOCKERD_LOG=/tmp/chaoskit-dockerd.log

log() { printf '[docker-setup %(%T)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

wait_for_apt() {
    # Another apt-get (the machine's own provisioning) holds the dpkg lock: wait for it.
    local waited=0
    while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do
        [ "$waited" -eq 0 ] && log "waiting for a running apt-get to finish"
        sleep 2
        waited=$((waited + 2))
        [ "$waited" -lt 900 ] || die "apt-get still running after 15 minutes"
    done
}

COMPOSE_V2_SUITE=trixie
COMPOSE_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

have_compose_v1() {
    # Debian's docker-compose 1.29 (v2 may also install a `docker-compose` shim: ask it).
    command -v docker-compose >/dev/null && docker-compose version --short 2>/dev/null | grep -q '^1\.'
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    have_compose_v1 || missing+=(docker-compose)
    [ "${#missing[@]}" -eq 0 ] && return 0
    wait_for_apt
    # Another process may have installed them while we waited.
    missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    have_compose_v1 || missing+=(docker-compose)
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local apt_log=/tmp/chaoskit-apt.log
    { apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"$apt_log" 2>&1 \
        || { tail -n 20 "$apt_log" >&2; die "apt-get install ${missing[*]} failed"; }
}

install_compose_v2() {
    # Compose v2 is not in bookworm, and Docker's own apt repository is not reachable.
    # Debian trixie packages it as docker-compose 2.x: a static binary needing only
    # libc. apt downloads that package (signature checked with the trixie keys of
    # bookworm's debian-archive-keyring) through a throw-away source list, and only the
    # plugin binary is installed, so Debian's docker-compose 1.29 stays as it is.
    if docker compose version 2>/dev/null | grep -Eq 'version v?2\.'; then
        return 0
    fi
    local debs="$CACHE/compose-v2" deb
    mkdir -p "$debs"
    deb="$(ls "$debs"/docker-compose_2.*.deb 2>/dev/null | head -n 1 || true)"
    if [ -z "$deb" ]; then
        local root mirror apt_log=/tmp/chaoskit-apt-compose.log
        root="$(mktemp -d /tmp/chaoskit-apt.XXXXXX)"
        mirror="$(debian_mirror)"
        mkdir -p "$root/lists/partial" "$root/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $COMPOSE_V2_SUITE main" \
            >"$root/sources.list"
        local opts=(-o "Dir::Etc::SourceList=$root/sources.list" -o "Dir::Etc::SourceParts=$root/none"
            -o "Dir::State::Lists=$root/lists" -o "Dir::Cache=$root/cache")
        log "downloading Compose v2 (docker-compose from Debian $COMPOSE_V2_SUITE)"
        { apt-get "${opts[@]}" update -qq \
            && (cd "$debs" && apt-get "${opts[@]}" download docker-compose); } >"$apt_log" 2>&1 \
            || { tail -n 20 "$apt_log" >&2; rm -rf "$root"; die "cannot download Compose v2"; }
        rm -rf "$root"
        deb="$(ls "$debs"/docker-compose_2.*.deb 2>/dev/null | head -n 1 || true)"
        [ -n "$deb" ] || die "Debian $COMPOSE_V2_SUITE no longer has a docker-compose 2.x package"
    fi
    log "installing the Compose v2 plugin from $(basename "$deb") into $COMPOSE_PLUGIN_DIR"
    mkdir -p "$COMPOSE_PLUGIN_DIR"
    dpkg-deb --fsys-tarfile "$deb" \
        | tar -xO ./usr/libexec/docker/cli-plugins/docker-compose >"$COMPOSE_PLUGIN_DIR/docker-compose.tmp"
    chmod 755 "$COMPOSE_PLUGIN_DIR/docker-compose.tmp"
    mv "$COMPOSE_PLUGIN_DIR/docker-compose.tmp" "$COMPOSE_PLUGIN_DIR/docker-compose"
    docker compose version >/dev/null 2>&1 || die "docker compose does not run after installing the plugin"
}

start_dockerd() {
    docker info >/dev/null 2>&1 && return 0
    if ! pgrep -x dockerd >/dev/null; then
        log "starting dockerd (log: $DOCKERD_LOG)"
        nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
        disown || true
    fi
    local i
    for i in $(seq 1 120); do
        docker info >/dev/null 2>&1 && { log "dockerd ready"; return 0; }
        sleep 0.5
    done
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not become ready in 60 s"
}

debian_mirror() {
    # The mirror apt uses here: the only kind of registry this machine can reach.
    if [ -n "${CHAOSKIT_DEBIAN_MIRROR:-}" ]; then
        echo "$CHAOSKIT_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
    if [ -z "$uri" ]; then
        uri="$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
            | grep -E '/debian/?$' | head -n 1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE present"
        return 0
    fi
    mkdir -p "$CACHE"
    # The package list is part of the cache key: changing it makes a new tarball.
    local key tarball
    key="$(printf '%s %s' "$SUITE" "$INCLUDE" | sha256sum | cut -c1-12)"
    tarball="$CACHE/rootfs-$SUITE-$key.tar"
    if [ ! -s "$tarball" ]; then
        local mirror root
        mirror="$(debian_mirror)"
        root="$(mktemp -d /tmp/chaoskit-rootfs.XXXXXX)"
        log "debootstrap $SUITE from $mirror (about a minute)"
        debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$mirror" \
            >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -n 20 "$CACHE/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed"; }
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    log "importing $tarball as $BASE_IMAGE"
    docker import --change 'LABEL chaoskit=1' --change 'CMD ["/bin/bash"]' \
        "$tarball" "$BASE_IMAGE" >/dev/null
}

build_wheels() {
    # Dependencies are built once into the cache; the chaoskit wheel every time,
    # since the sources change between runs.
    local wheels="$CACHE/wheels"
    mkdir -p "$wheels"
    rm -f "$wheels"/chaoskit-*.whl
    local build
    build="$(mktemp -d /tmp/chaoskit-wheel.XXXXXX)"
    "$PYTHON" -m pip wheel --quiet --no-deps "$REPO" -w "$build" >/dev/null 2>&1 \
        || "$PYTHON" -m pip wheel --no-deps "$REPO" -w "$build" || die "cannot build the chaoskit wheel"
    cp "$build"/chaoskit-*.whl "$wheels"/
    rm -rf "$build"
    # The dependency wheels are resolved again only when chaoskit's requirements change.
    local wanted stamp="$wheels/.requirements"
    wanted="$("$PYTHON" -c 'import sys, zipfile
zf = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
print("\n".join(sorted(l for l in zf.read(meta).decode().splitlines() if l.startswith("Requires-Dist"))))
' "$wheels"/chaoskit-*.whl)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        echo "$wheels"
        return 0
    fi
    if ! "$PYTHON" -m pip wheel --quiet --no-index --find-links "$wheels" -w "$wheels" \
        "$wheels"/chaoskit-*.whl >/dev/null 2>&1; then
        log "fetching dependency wheels from the package index"
        "$PYTHON" -m pip wheel --quiet --find-links "$wheels" -w "$wheels" "$wheels"/chaoskit-*.whl
    fi
    printf '%s' "$wanted" >"$stamp"
    echo "$wheels"
}

build_images() {
    local wheels="$1"
    log "building the node and proxy images on $BASE_IMAGE"
    PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m chaoskit.runtimes.images \
        --base-image "$BASE_IMAGE" --wheels "$wheels" --stage "$REPO/docker"
}

download_sshhost_debs() {
    # The .debs the SSH host image needs beyond the base image: apt resolves them
    # against the base's own dpkg status (copied out of the image), through a
    # throw-away bookworm source list, so exactly the missing packages are fetched.
    local debs="$CACHE/sshhost-debs" wanted="openssh-server sudo"
    mkdir -p "$debs"
    if [ -f "$debs/.base" ] && [ "$(cat "$debs/.base")" = "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE") $wanted" ] \
        && ls "$debs"/openssh-server_*.deb >/dev/null 2>&1; then
        echo "$debs"
        return 0
    fi
    local root cid mirror apt_log=/tmp/chaoskit-apt-sshhost.log
    root="$(mktemp -d /tmp/chaoskit-apt.XXXXXX)"
    mkdir -p "$root/lists/partial" "$root/cache/archives/partial"
    cid="$(docker create "$BASE_IMAGE")"
    docker cp "$cid:/var/lib/dpkg/status" "$root/status" >/dev/null
    docker rm "$cid" >/dev/null
    mirror="$(debian_mirror)"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $SUITE main" \
        >"$root/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$root/sources.list" -o "Dir::Etc::SourceParts=$root/none"
        -o "Dir::State::Lists=$root/lists" -o "Dir::Cache=$root/cache"
        -o "Dir::State::status=$root/status" -o "Debug::NoLocking=1")
    log "downloading $wanted (and what the base lacks for them) for the SSH host image"
    { apt-get "${opts[@]}" update -qq \
        && apt-get "${opts[@]}" install --download-only --no-install-recommends -y -qq $wanted; } \
        >"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; rm -rf "$root"; die "cannot download $wanted"; }
    rm -f "$debs"/*.deb
    cp "$root"/cache/archives/*.deb "$debs"/
    rm -rf "$root"
    printf '%s' "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE") $wanted" >"$debs/.base"
    echo "$debs"
}

build_sshhost_image() {
    local wheels="$1" debs
    debs="$(download_sshhost_debs)"
    log "building the SSH host image on $BASE_IMAGE"
    PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m chaoskit.remote.testhosts \
        --base-image "$BASE_IMAGE" --wheels "$wheels" --debs "$debs"
}

main() {
    local started=$SECONDS
    install_packages
    install_compose_v2
    start_dockerd
    build_base_image
    local wheels
    wheels="$(build_wheels)"
    build_images "$wheels"
    build_sshhost_image "$wheels"
    log "done in $((SECONDS - started)) s"
}

main "$@"
