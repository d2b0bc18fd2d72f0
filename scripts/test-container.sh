#!/usr/bin/env bash
# Builds the Dockerfile's image and runs it, with podman from Debian:
#   1. a base image made here, since no container registry is reachable:
#      debootstrap --variant=minbase of this machine's Debian release from
#      its own apt mirror, then `podman import` (the tarball is cached under
#      $CARGO_TARGET_DIR/container, so later runs skip debootstrap);
#   2. `podman build --build-arg BINARY=prebuilt` around the server binary
#      built on the host (FRAUD_SERVER_BIN, default the release build);
#   3. `podman run`: /ready answers 200, a prediction is scored and stored
#      in the /app/data volume, the server runs as the non-root user, the
#      image's HEALTHCHECK passes, and `podman stop` (SIGTERM) exits 0;
#   4. deploy/systemd/fraud-server.service under a real systemd (PID 1 of a
#      container made from the same base with Debian's systemd; the image
#      with systemd is cached too): the unit starts with its DynamicUser and
#      hardening, answers /ready, reloads the model on `systemctl reload`
#      (SIGHUP), and stops cleanly on `systemctl stop` (SIGTERM).
# The source build (the Dockerfile's Rust builder stage) needs the Rust
# image from a registry and is not run here; docs/deploy.md says so.
#
#   scripts/test-container.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="${FRAUD_SERVER_BIN:-$TARGET/release/fraud-server}"
CACHE="$TARGET/container"
BASE=localhost/fraud-base:local
IMAGE="localhost/fraud-engine:test-$$"
NAME="fraud-engine-test-$$"
SYSTEMD_BASE=localhost/fraud-systemd-base:local
SYSTEMD_IMAGE="localhost/fraud-systemd:test-$$"
SYSTEMD_NAME="fraud-systemd-test-$$"

fail() { echo "container test: $*" >&2; exit 1; }
command -v podman >/dev/null || fail "podman is not installed (deploy/install-test-deps.sh)"
[ -x "$BIN" ] || fail "no server binary at $BIN (cargo build --release -p fraud-server, or set FRAUD_SERVER_BIN)"
[ "$(id -u)" = 0 ] || fail "run as root: rootful podman is what works on this machine (rootless needs subuid ranges)"

# This machine's podman: crun refuses hybrid cgroup v1/v2 hosts and the
# default ulimits exceed what the sandbox allows, so runc and the current
# limits are used when crun cannot start a container.
PODMAN=(podman)
RUN_OPTS=()
WORK="$(mktemp -d /tmp/fraud-container.XXXXXX)"
# The Dockerfile's stages leave untagged images behind; the ones this run
# made are removed with the rest (the cached base images stay).
podman images -q -f dangling=true | sort >"$WORK/dangling-before"
cleanup() {
    set +e
    podman rm -f -t 0 "$NAME" "$SYSTEMD_NAME" >/dev/null 2>&1
    podman rmi -f "$IMAGE" "$SYSTEMD_IMAGE" >/dev/null 2>&1
    podman images -q -f dangling=true | sort | comm -13 "$WORK/dangling-before" - \
        | xargs -r podman rmi -f >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- 1. the base image ----
if ! podman image exists "$BASE"; then
    mkdir -p "$CACHE"
    if [ ! -s "$CACHE/base.tar" ]; then
        # In a subshell: os-release sets NAME, which would replace the
        # container's name above (a fresh machine failed on it).
        SUITE="$(. /etc/os-release && echo "$VERSION_CODENAME")"
        # The mirror apt already uses here (deb822 or one-line sources).
        MIRROR="$(awk -v suite="$SUITE" 'BEGIN{RS=""} $0 ~ "Suites:[^\n]*(^|[ \t])" suite "([ \t]|\n|$)" && $0 !~ /security/ {
                      for (i = 1; i <= NF; i++) if ($i == "URIs:") { print $(i+1); exit } }' \
                  /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
        [ -n "$MIRROR" ] || MIRROR="$(awk -v suite="$SUITE" '$1 == "deb" && $3 == suite {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
        [ -n "$MIRROR" ] || fail "cannot find this machine's apt mirror for $SUITE in /etc/apt/sources.list*"
        command -v debootstrap >/dev/null || fail "debootstrap is not installed (deploy/install-test-deps.sh)"
        echo "building the base image: debootstrap --variant=minbase $SUITE (cached in $CACHE)"
        debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
            || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
        rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
        tar -C "$WORK/rootfs" -cf "$CACHE/base.tar.tmp" .
        mv "$CACHE/base.tar.tmp" "$CACHE/base.tar"
        rm -rf "$WORK/rootfs"
    fi
    podman import "$CACHE/base.tar" "$BASE" >/dev/null 2>&1
fi

if ! podman run --rm "$BASE" true >/dev/null 2>"$WORK/probe.log"; then
    if command -v runc >/dev/null; then
        PODMAN=(podman --runtime runc)
    fi
    RUN_OPTS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
    "${PODMAN[@]}" run --rm "${RUN_OPTS[@]}" "$BASE" true >/dev/null 2>"$WORK/probe2.log" || {
        cat "$WORK/probe.log" "$WORK/probe2.log"
        fail "podman cannot start a container on this machine (see above)"
    }
    echo "podman: the default runtime cannot start containers here ($(head -c 200 "$WORK/probe.log")); using ${PODMAN[*]} ${RUN_OPTS[*]}"
fi

# ---- 2. the image ----
mkdir -p "$WORK/context/target/release"
cp "$REPO/Dockerfile" "$REPO/.dockerignore" "$WORK/context/"
cp "$BIN" "$WORK/context/target/release/fraud-server"
echo "building the image (BINARY=prebuilt, BASE_IMAGE=$BASE)"
"${PODMAN[@]}" build --format docker "${RUN_OPTS[@]}" --build-arg BASE_IMAGE="$BASE" \
    --build-arg BINARY=prebuilt -t "$IMAGE" "$WORK/context" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; fail "podman build failed"; }
# (podman logs that it cannot reach systemd to schedule health checks on a
# machine without it; `podman healthcheck run` below runs the check itself.)
LISTED="$("${PODMAN[@]}" run --rm "${RUN_OPTS[@]}" --entrypoint /bin/ls "$IMAGE" /usr/local/bin /app 2>>"$WORK/run.log")"
[ "$(echo "$LISTED" | grep -v -e '^/' -e '^$' | sort | tr '\n' ' ')" = "data fraud-server " ] \
    || fail "the image holds more than the binary and the data volume: $LISTED"
[ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = "fraud:fraud" ] || fail "the image's user is not fraud"
podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" | grep -q healthcheck \
    || fail "the image has no HEALTHCHECK (podman keeps it only with --format docker)"

# ---- 3. run it ----
# Below the kernel's ephemeral range, so no outgoing connection holds it.
EPHEMERAL_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
PORT=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
mkdir -p "$WORK/data"
chown 10001:10001 "$WORK/data"
NET=(-p "127.0.0.1:$PORT:5000")
if ! "${PODMAN[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" "${NET[@]}" -v "$WORK/data:/app/data" \
        -e DEFAULT_MODEL_ROWS=5000 -e RATE_LIMIT_PER_MINUTE=0 "$IMAGE" >"$WORK/run.log" 2>&1; then
    # Port publishing needs the container network (netavark/CNI with
    # iptables); where that is missing, share the host's loopback instead.
    echo "podman: publishing a port failed ($(head -c 200 "$WORK/run.log")); using --network host"
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    NET=(--network host -e "PORT=$PORT" -e HOST=127.0.0.1)
    "${PODMAN[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" "${NET[@]}" -v "$WORK/data:/app/data" \
        -e DEFAULT_MODEL_ROWS=5000 -e RATE_LIMIT_PER_MINUTE=0 "$IMAGE" >>"$WORK/run.log" 2>&1 \
        || { cat "$WORK/run.log"; fail "podman run failed"; }
fi
READY=""
for _ in $(seq 600); do
    READY="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready" || true)"
    [ "$READY" = 200 ] && break
    [ "$(podman inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 0.2
done
[ "$READY" = 200 ] || { podman logs "$NAME" | tail -20; fail "/ready is $READY, not 200"; }
ANSWER="$(curl -sf -H 'Content-Type: application/json' \
    -d '{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}' \
    "http://127.0.0.1:$PORT/api/predict")" || fail "the prediction failed"
echo "$ANSWER" | grep -q '"risk_level"' || fail "unexpected answer: $ANSWER"
[ "$(curl -s "http://127.0.0.1:$PORT/api/predictions?limit=1" | grep -o '"total":[0-9]*')" = '"total":1' ] \
    || fail "the prediction is not in the history"
[ "$(podman exec "$NAME" id -u)" = 10001 ] || fail "the server does not run as uid 10001"
podman healthcheck run "$NAME" >/dev/null || fail "the image's HEALTHCHECK failed"
podman stop -t 20 "$NAME" >/dev/null 2>>"$WORK/run.log"
EXIT="$(podman inspect --format '{{.State.ExitCode}}' "$NAME")"
[ "$EXIT" = 0 ] || { podman logs "$NAME" | tail -20; fail "the server exited $EXIT after SIGTERM"; }
[ -s "$WORK/data/history.db" ] && [ -s "$WORK/data/default-model.fem" ] \
    || fail "the data volume lacks history.db or default-model.fem: $(ls "$WORK/data")"
IMAGE_SIZE="$(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

# ---- 4. the systemd unit under systemd ----
if ! podman image exists "$SYSTEMD_BASE"; then
    echo "building the systemd base image (apt-get install systemd in the base; cached)"
    mkdir -p "$WORK/systemd-base"
    cat >"$WORK/systemd-base/Containerfile" <<EOF
FROM $BASE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv >/dev/null && rm -rf /var/lib/apt/lists/*
EOF
    "${PODMAN[@]}" build "${RUN_OPTS[@]}" -t "$SYSTEMD_BASE" "$WORK/systemd-base" >"$WORK/systemd-build.log" 2>&1 \
        || { tail -20 "$WORK/systemd-build.log"; fail "cannot build the systemd base image"; }
fi
mkdir -p "$WORK/systemd"
cp "$BIN" "$WORK/systemd/fraud-server"
cp "$REPO/deploy/systemd/fraud-server.service" "$WORK/systemd/"
printf 'DEFAULT_MODEL_ROWS=5000\n' >"$WORK/systemd/fraud-server.env"
cat >"$WORK/systemd/Containerfile" <<EOF
FROM $SYSTEMD_BASE
COPY fraud-server /usr/local/bin/fraud-server
COPY fraud-server.service /etc/systemd/system/fraud-server.service
COPY fraud-server.env /etc/fraud-engine/fraud-server.env
RUN systemctl enable fraud-server
CMD ["/sbin/init"]
EOF
"${PODMAN[@]}" build "${RUN_OPTS[@]}" -t "$SYSTEMD_IMAGE" "$WORK/systemd" >"$WORK/systemd-build.log" 2>&1 \
    || { tail -20 "$WORK/systemd-build.log"; fail "cannot build the systemd test image"; }
"${PODMAN[@]}" run -d --name "$SYSTEMD_NAME" --systemd=always "${RUN_OPTS[@]}" "$SYSTEMD_IMAGE" >>"$WORK/run.log" 2>&1 \
    || { cat "$WORK/run.log"; fail "cannot start systemd in a container"; }
in_systemd() { podman exec "$SYSTEMD_NAME" "$@"; }
journal() { in_systemd journalctl -u fraud-server --no-pager 2>/dev/null; }
# Not `journal | grep -q`: grep leaves at the first match, and under pipefail
# the journal's writer, cut off mid-output, fails the check (it did, with the
# line in the journal).
journal_has() {
    local text
    text="$(journal)"
    grep -q -- "$1" <<<"$text"
}
# journald reads the unit's stderr on its own time: a line the server has
# written can land there up to moments later, so a check waits up to 5 s.
journal_shows() {
    for _ in $(seq 50); do journal_has "$1" && return 0; sleep 0.1; done
    return 1
}
for _ in $(seq 300); do
    in_systemd /usr/local/bin/fraud-server healthcheck >/dev/null 2>&1 && break
    sleep 0.2
done
in_systemd /usr/local/bin/fraud-server healthcheck >/dev/null \
    || { journal | tail -20; fail "the unit's server does not answer /ready under systemd"; }
[ "$(in_systemd systemctl is-active fraud-server)" = active ] || fail "the unit is not active"
MAIN_PID="$(in_systemd systemctl show -p MainPID --value fraud-server)"
UNIT_UID="$(in_systemd awk '/^Uid:/{print $2}' "/proc/$MAIN_PID/status")"
{ [ -n "$UNIT_UID" ] && [ "$UNIT_UID" != 0 ]; } || fail "the unit's server runs as uid '$UNIT_UID' (DynamicUser should give a non-root one)"
in_systemd test -s /var/lib/fraud-engine/history.db || fail "no history in the StateDirectory"
in_systemd systemctl reload fraud-server || { journal | tail -20; fail "systemctl reload failed"; }
journal_shows "reloaded the model" || { journal | tail -20; fail "SIGHUP did not reload the model"; }
in_systemd systemctl stop fraud-server
{ [ "$(in_systemd systemctl show -p Result --value fraud-server)" = success ] \
    && [ "$(in_systemd systemctl show -p ExecMainStatus --value fraud-server)" = 0 ]; } \
    || { journal | tail -20; fail "systemctl stop did not end the server cleanly"; }
journal_shows "the history is flushed" \
    || { journal | tail -20; fail "the server did not flush its history on SIGTERM"; }
echo "systemd unit: ok (started under systemd as DynamicUser uid $UNIT_UID, /ready 200, reload by SIGHUP, clean stop by SIGTERM)"

echo "container test: ok (image $IMAGE_SIZE; /ready 200, a prediction scored and stored in the volume, uid 10001, HEALTHCHECK healthy, SIGTERM exit 0)"
