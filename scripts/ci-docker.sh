#!/usr/bin/env bash
# Makes a Docker engine answer on this (Debian) machine and builds the tiny local image the
# container tests use, `pp-test-busybox:latest`, without any registry (none is reachable in CI).
#
# Idempotent: when `docker info` answers and the image exists, it returns in well under a second.
#
# What it does, in order:
#   1. installs `docker.io` (which pulls in `containerd` and `runc`) and `busybox-static` with
#      apt-get when they are missing (`apt-get update` first);
#   2. if `docker info` does not answer, starts `dockerd` in the background, logging to
#      $PP_DOCKERD_LOG (default /var/log/pp-dockerd.log). It runs with `--iptables=false
#      --ip6tables=false`: CI VMs often lack the netfilter tables dockerd wants, and pp needs no
#      NAT (under `network: deny` containers get `--network none`; under `allow` the default
#      bridge still reaches the host). Tried in order until one answers: overlay2 with the
#      default bridge, vfs with the bridge, then each driver with `--bridge=none` (no bridge
#      device: containers under `allow` then have loopback only). On the reference VM
#      (Debian 12, kernel 6.x, cgroup v1) the first one works;
#   3. waits (at most $PP_DOCKERD_WAIT_SEC, default 60 s) until `docker info` answers;
#   4. builds `pp-test-busybox:latest` with `docker import` from a rootfs holding the host's
#      static busybox and a symlink per applet (sh, sleep, cat, grep, env, nc, …).
#
# Environment: PP_DOCKERD_LOG, PP_DOCKERD_WAIT_SEC, PP_TEST_IMAGE (default pp-test-busybox:latest).
set -euo pipefail

IMAGE="${PP_TEST_IMAGE:-pp-test-busybox:latest}"
LOG="${PP_DOCKERD_LOG:-/var/log/pp-dockerd.log}"
WAIT="${PP_DOCKERD_WAIT_SEC:-60}"

say() { printf 'ci-docker: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
engine_up() { docker info >/dev/null 2>&1; }

# 1. Packages. dpkg-query is cheap; apt-get only runs when something is missing.
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
# The image needs a statically linked busybox (Debian's `busybox` package is dynamic).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' \
    || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need[@]}" >&2
fi

# 2-3. The engine.
start_dockerd() {
    local driver="$1" bridge="$2"
    say "starting dockerd (storage driver ${driver}, bridge ${bridge}; log ${LOG})"
    as_root mkdir -p "$(dirname "$LOG")"
    local extra=""
    [ "$bridge" = none ] && extra="--bridge=none"
    # containerd is started by dockerd itself when no system containerd runs.
    as_root sh -c "nohup dockerd --iptables=false --ip6tables=false ${extra} \
        --storage-driver='${driver}' >>'${LOG}' 2>&1 &"
}

wait_engine() {
    local deadline=$((SECONDS + WAIT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        engine_up && return 0
        # A daemon that already exited will not come up; stop waiting for it.
        pgrep -x dockerd >/dev/null 2>&1 || return 1
        sleep 0.5
    done
    return 1
}

if ! engine_up; then
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd is running but not answering yet; waiting"
        wait_engine || { say "dockerd did not answer within ${WAIT} s; see ${LOG}"; exit 1; }
    else
        started=""
        for mode in "overlay2 default" "vfs default" "overlay2 none" "vfs none"; do
            # shellcheck disable=SC2086
            start_dockerd $mode
            if wait_engine; then started="$mode"; break; fi
            say "dockerd did not come up with ${mode}; last log lines:"
            tail -n 5 "$LOG" >&2 || true
            pid="$(pgrep -x dockerd || true)"
            if [ -n "$pid" ]; then as_root kill "$pid" || true; sleep 2; fi
        done
        [ -n "$started" ] || { say "could not start dockerd; see ${LOG}"; exit 1; }
    fi
fi
say "engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"

# 4. The test image.
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image ${IMAGE} present"
    exit 0
fi
bb=/bin/busybox # from busybox-static
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/workspace" "$root/root"
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
# `busybox --install -s` would link to the host path of this temp dir; relative links instead.
for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
mkdir -p "$root/usr"
ln -s ../bin "$root/usr/bin"
ln -s bin "$root/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin' \
    --change 'CMD ["/bin/sh"]' \
    - "$IMAGE" >/dev/null
say "built ${IMAGE} ($(docker image inspect --format '{{.Id}}' "$IMAGE"))"
