#!/usr/bin/env bash
# Installs the Debian programs the tests use as peers, when they are missing:
# openssl (`openssl cms` interop), redis-server (the scale-out location store),
# kamailio and baresip (SIP peers nobody here wrote), tshark (reads the
# demo's capture). Sourced by tools/test and .ci/run; `PEERS_STRICT=1` makes a
# peer that is still missing afterwards an error instead of a warning.
PEER_TOOLS=(openssl redis-server kamailio baresip tshark)
peer_packages() {
    case "$1" in
        kamailio) echo "kamailio kamailio-tls-modules" ;;
        tshark) echo "tshark" ;;
        *) echo "$1" ;;
    esac
}
missing=()
for tool in "${PEER_TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 \
        || missing+=($(peer_packages "$tool"))
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing test peers: ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
        # Packaged services must not hold the ports the tests use.
        for svc in redis-server kamailio; do
            (service "$svc" stop || true) >/dev/null 2>&1
        done
    else
        echo "warning: missing test peers (${missing[*]}); their tests will be skipped" >&2
    fi
fi
export PATH="$PATH:/usr/sbin:/sbin"
if [ "${PEERS_STRICT:-0}" = 1 ]; then
    for tool in "${PEER_TOOLS[@]}"; do
        command -v "$tool" >/dev/null || { echo "missing after install: $tool" >&2; exit 1; }
    done
fi
