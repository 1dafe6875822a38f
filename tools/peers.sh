#!/usr/bin/env bash
# Installs the Debian packages the tests use as peers, when they are missing:
# openssl (`openssl cms` interop), redis-server (the scale-out location
# store), kamailio with its TLS and SQLite modules and baresip-core (SIP peers
# nobody here wrote; baresip-core has the binary and the headless modules,
# without GTK), tshark (reads the demo's capture). Sourced by tools/test and
# .ci/run; `PEERS_STRICT=1` makes a peer still missing afterwards an error
# instead of a warning (a missing peer only turns its tests into skips).
PEER_PACKAGES=(openssl redis-server kamailio kamailio-tls-modules kamailio-sqlite-modules
    baresip-core tshark)
PEER_TOOLS=(openssl redis-server kamailio baresip tshark)
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${PEER_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
fi
if [ "${#missing[@]}" -gt 0 ]; then
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo -n)
    if command -v apt-get >/dev/null 2>&1 && "${as_root[@]}" true 2>/dev/null; then
        echo "installing test peers: ${missing[*]}" >&2
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${missing[@]}" >/dev/null
        # Packaged services must not hold the ports the tests use.
        for svc in redis-server kamailio; do
            ("${as_root[@]}" service "$svc" stop || true) >/dev/null 2>&1
        done
    else
        echo "warning: missing test peers (${missing[*]}); their tests will be skipped" >&2
    fi
fi
if [ "${PEERS_STRICT:-0}" = 1 ]; then
    for tool in "${PEER_TOOLS[@]}"; do
        command -v "$tool" >/dev/null || { echo "missing after install: $tool" >&2; exit 1; }
    done
    test -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so \
        || ls /usr/lib/*/kamailio/modules/db_sqlite.so >/dev/null 2>&1 \
        || { echo "missing after install: kamailio-sqlite-modules" >&2; exit 1; }
fi
