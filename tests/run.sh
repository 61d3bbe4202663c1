#!/usr/bin/env bash
# The test suite: installs the real peers the tests talk to (sipp, sipsak,
# openssl for certificates and TLS clients, tshark to decrypt a capture,
# baresip as a TLS softphone, chromium and JsSIP for the browser over
# WebSocket, promtool of Debian's prometheus for the alert rules,
# redis-server and redis-cli for the cluster, dnsmasq as the DNS server),
# then builds and runs every test (unit, vectors, integration against the
# real binary on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v sipsak >/dev/null || need+=(sipsak)
command -v ss >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
command -v tshark >/dev/null || need+=(tshark)
command -v baresip >/dev/null || need+=(baresip-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

# JsSIP, playwright-core and esbuild for tests/ws.rs (node and npm are on the machine).
if [ ! -d tests/browser/node_modules ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# sipcapture's hep-js, the independent HEP decoder of tests/hep.rs.
if [ ! -d tests/hep/node_modules ]; then
  (cd tests/hep && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# SIPVicious (svmap, svwar, svcrack) for tests/sipvicious.rs.
command -v sipvicious_svmap >/dev/null || python3 -m pip install --quiet sipvicious

# glommio needs locked memory for its io_uring rings (512 KiB per shard).
ulimit -l unlimited 2>/dev/null || ulimit -l 65536 2>/dev/null || true

# House habits: one format (rustfmt.toml), no lint warnings.
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --quiet -- -D warnings

cargo build --release --workspace
log=$(mktemp)
set +e
# The README's run command, verbatim, as a smoke test (tests/readme-smoke.sh).
./tests/readme-smoke.sh 2>&1 | tee "$log"
smoke=${PIPESTATUS[0]}
# The Debian package, built and installed on this machine (needs root).
deb=0
if [ "$(id -u)" = 0 ]; then
  ./packaging/check-deb.sh 2>&1 | tee -a "$log"
  deb=${PIPESTATUS[0]}
fi
# The build guided by a profile, trained and checked (packaging/check-pgo.sh).
./packaging/check-pgo.sh 2>&1 | tee -a "$log"
pgo=${PIPESTATUS[0]}
cargo test --release --workspace --no-fail-fast --lib --bins --tests -- --test-threads 2 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, the smoke test, the package and
# the build guided by a profile.
awk '/^test result:/ { p += $4; f += $6 } /^(readme|deb|pgo): [0-9]+ passed/ { p += $2; f += $4 } END { printf "all: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
[ "$smoke" = 0 ] || exit "$smoke"
[ "$deb" = 0 ] || exit "$deb"
[ "$pgo" = 0 ] || exit "$pgo"
exit "$status"
