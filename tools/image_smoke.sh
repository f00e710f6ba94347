#!/usr/bin/env bash
# CI's smoke test of the image IMAGE (`make image` builds it): inside one container, as the
# image's user, `qsched serve` starts on loopback with its jobs in /var/lib/qsched,
# `qsched health` asks until it answers SERVING, and the server is stopped. With docker
# (where a daemon answers) the container has no network but its own loopback; with buildah
# (chroot isolation, as tools/build_image.sh builds) it shares the host's, so the server
# takes a port that is free there. Bounded by $SMOKE_TIMEOUT seconds.
set -euo pipefail

image=${1:?usage: tools/image_smoke.sh IMAGE}
smoke_timeout=${SMOKE_TIMEOUT:-360}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# shellcheck disable=SC2016  # expanded by the container's shell.
check='
address=127.0.0.1:$1
qsched serve --address "$address" --db /var/lib/qsched/qsched.db >/tmp/serve.log 2>&1 &
server=$!
status=1
for attempt in $(seq 120); do
    if qsched health --server "$address" --timeout 5 2>/dev/null; then status=0; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 2
done
kill -TERM "$server"
wait "$server" || true
[ "$status" = 0 ] || { echo "qsched serve did not answer SERVING; its output:"; cat /tmp/serve.log; }
exit "$status"'

if docker info >/dev/null 2>&1; then
    name=qsched-smoke-$$
    trap 'docker rm --force "$name" >/dev/null 2>&1 || true' EXIT
    timeout "$smoke_timeout" docker run --rm --name "$name" --network none \
        --entrypoint sh "$image" -c "$check" smoke "$port"
else
    container=$(buildah from --pull=never "$image")
    trap 'buildah rm "$container" >/dev/null' EXIT
    timeout "$smoke_timeout" buildah run --network host "$container" -- \
        sh -c "$check" smoke "$port"
fi
