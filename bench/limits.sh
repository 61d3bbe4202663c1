#!/usr/bin/env bash
# Cost per request of rate-limit rules: OPTIONS at a fixed open-loop rate
# from 64 UDP ports of one address against sipedge with no rule ("off"), a
# per-IP rule ("ip": one key, its bucket on one shard, leased to the
# others) and a global per-method rule ("global"), on 1 and 2 shards. The
# rules are set far above the load (rate and burst 10000000) so nothing is
# refused: this measures the check and its lease traffic, not refusals.
# Prints the server's CPU µs per OPTIONS and p99 (µs) per run, and the lease
# messages the edge counted.
#
#   bench/limits.sh
# Environment: RATE (20000), DURATION (5 s), SHARDS ("1 2"),
# GEN_CPU (0: the generator's CPU), CORES_1 ("1"), CORES_2 ("1,2": the
# shards' CPUs; on a two-core machine use "0,1" and expect noise),
# MODES ("off ip global"), CARGO_TARGET_DIR, BENCH_BIN, SIPEDGE_BIN (the
# binary to measure: run it again with the previous commit's binary for
# today's split buckets, whose "ip" column is the old per-shard cost).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TDIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=${BENCH_BIN:-$TDIR/release/sipedge-bench}
SIPEDGE=${SIPEDGE_BIN:-$TDIR/release/sipedge}
RATE=${RATE:-20000}
DURATION=${DURATION:-5}
SHARDS=${SHARDS:-"1 2"}
GEN_CPU=${GEN_CPU:-0}
CORES_1=${CORES_1:-1}
CORES_2=${CORES_2:-1,2}
MODES=${MODES:-"off ip global"}
WORK=$(mktemp -d /tmp/sipedge-limits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[[ -x $BENCH && -x $SIPEDGE ]] || (cd "$ROOT" && cargo build --release --workspace)

rule() { # mode -> the [[protect.limit]] table
  case $1 in
    off) ;;
    ip) printf '\n[[protect.limit]]\nname = "bench-ip"\nkey = "ip"\nrate = 10000000\nburst = 10000000\n';;
    global) printf '\n[[protect.limit]]\nname = "bench-global"\nkey = "global"\nmethods = ["OPTIONS"]\nrate = 10000000\nburst = 10000000\n';;
    *) echo "unknown mode $1" >&2; exit 2;;
  esac
}

config() { # shards cores mode
  cat <<TOML
[server]
shards = $1
cores = [$2]

[[listen]]
transport = "udp"
addr = "127.0.0.1:5060"

[admin]
addr = "127.0.0.1:9060"

[log]
level = "warn"

# One generator address far above the flood tripwire: the tripwire off, no allowlist.
[protect.flood]
requests = 0
$(rule "$3")
TOML
}

printf '%-7s %-7s %12s %10s %10s %14s\n' shards mode "cpu us/op" "p99 us" ok "lease msgs"
for n in $SHARDS; do
  cores=$CORES_1
  [[ $n == 2 ]] && cores=$CORES_2
  for mode in $MODES; do
    config "$n" "$cores" "$mode" >"$WORK/sipedge.toml"
    "$SIPEDGE" run --config "$WORK/sipedge.toml" >"$WORK/sipedge.log" 2>&1 &
    pid=$!
    sleep 1
    taskset -c "$GEN_CPU" "$BENCH" options --target 127.0.0.1:5060 --rate "$RATE" --duration "$DURATION" \
      --warmup 1 --sockets 64 --timeout-ms 1000 --server-pid "$pid" --quiet --json "$WORK/run.json" ||
      echo '{"ok":0}' >"$WORK/run.json"
    leases=$(curl -s http://127.0.0.1:9060/metrics |
      awk '/^sipedge_ratelimit_lease_messages_total/ { s += $NF } END { print s + 0 }')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-7s %-7s %12s %10s %10s %14s\n' "$n" "$mode" \
      "$(jq -r '.server_cpu_us_per_op // "-"' "$WORK/run.json")" "$(jq -r '.latency_us.p99 // "-"' "$WORK/run.json")" \
      "$(jq -r '.ok' "$WORK/run.json")" "$leases"
  done
done
