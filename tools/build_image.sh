#!/usr/bin/env bash
# Build deploy/Dockerfile as the image IMAGE (`make image`): with docker where a daemon
# answers, else with buildah.
#
# Where the Dockerfile's base image is neither present nor pullable (no route to its
# registry), a Debian bookworm root file system with Python 3.11 is made with debootstrap and
# tagged as that base, so the Dockerfile builds as written. Behind a TLS-inspecting proxy pip
# inside the build must trust the proxy's CA: the host's CA bundle ($CA_BUNDLE, Debian's by
# default), where it exists, is handed to the build as the secret "ca", which the Dockerfile
# mounts for its pip step only.
#
# buildah's steps run in chroot isolation ($BUILDAH_ISOLATION), which needs no cgroups: the
# OCI runtime cannot create a container in a VM or container with hybrid cgroups. Where
# overlay storage fails too, set STORAGE_DRIVER=vfs (buildah reads it from the environment).
set -euo pipefail
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

usage="usage: tools/build_image.sh IMAGE"
image=${1:?$usage}
cd "$(dirname "$0")/.."
dockerfile=deploy/Dockerfile
base=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$dockerfile")
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# How long a pull of the base may try before the Debian base is made instead.
pull_timeout=${PULL_TIMEOUT:-120}

if docker info >/dev/null 2>&1; then
    engine=docker
elif command -v buildah >/dev/null; then
    engine=buildah
else
    echo "$0: no docker daemon answers and buildah is not installed" \
        "(Debian: apt-get install buildah debootstrap)" >&2
    exit 1
fi

# The base's full name: buildah keeps a short name under localhost/, where FROM would not
# find it, so it is tagged as the registry name docker gives it.
qualified() {
    local first=${1%%/*}
    if [[ $1 != */* ]]; then
        echo "docker.io/library/$1"
    elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then
        echo "$1"
    else
        echo "docker.io/$1"
    fi
}

have_image() {
    case $engine in
    docker) docker image inspect "$1" >/dev/null 2>&1 ;;
    buildah) buildah inspect --type image "$(qualified "$1")" >/dev/null 2>&1 ;;
    esac
}

pull() {
    case $engine in
    docker) timeout "$pull_timeout" docker pull "$1" ;;
    buildah) timeout "$pull_timeout" buildah pull "$(qualified "$1")" ;;
    esac
}

# Tag the root file system in the tar archive $2 as the image $1.
import_rootfs() {
    local container
    case $engine in
    docker) docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$2" "$1" ;;
    buildah)
        container=$(buildah from scratch)
        buildah add --quiet "$container" "$2" /
        buildah config --env LANG=C.UTF-8 --cmd python3 "$container"
        buildah commit --quiet --rm "$container" "$(qualified "$1")"
        ;;
    esac
}

# A stand-in for the base: Debian bookworm (Python 3.11) with what the Dockerfile runs: python
# and its venv, CA certificates, groupadd and useradd.
make_debian_base() {
    local scratch
    scratch=$(mktemp -d)
    # shellcheck disable=SC2064  # expand now: the trap runs after this function returns.
    trap "rm -rf '$scratch'" EXIT
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates,passwd \
        bookworm "$scratch/rootfs" "$debian_mirror"
    chroot "$scratch/rootfs" apt-get clean
    rm -rf "$scratch"/rootfs/var/lib/apt/lists/*
    tar -C "$scratch/rootfs" -cf "$scratch/rootfs.tar" .
    import_rootfs "$1" "$scratch/rootfs.tar"
}

if ! have_image "$base" && ! pull "$base"; then
    echo "$0: cannot pull $base; making a Debian bookworm base with debootstrap" >&2
    make_debian_base "$base"
fi

secret=()
if [[ -f $ca_bundle ]]; then
    secret=(--secret "id=ca,src=$ca_bundle")
fi
case $engine in
docker) DOCKER_BUILDKIT=1 docker build "${secret[@]}" -f "$dockerfile" -t "$image" . ;;
# --pull=false: the base in store is used, as docker does (and the Debian one exists nowhere
# else). --layers: the dependency layer is reused when only the code changed. --format
# docker: OCI images have no HEALTHCHECK.
buildah)
    buildah build --pull=false --layers --format docker "${secret[@]}" \
        -f "$dockerfile" -t "$image" .
    ;;
esac
