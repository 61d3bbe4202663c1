#!/usr/bin/env bash
# Idle connections side by side: sipedge (one shard) and Kamailio (tls
# module), each pinned to CPU 1, the generator to CPU 0. For each server:
# start it, sample its memory, open CONNECTIONS connections with one
# REGISTER each (a distinct user per connection), let them idle, sample
# again: bytes per connection = growth of the server's PSS (summed over its
# processes) / open connections. Results: bench/results/idle-TRANSPORT-<date>.json.
#   bench/idle-tls.sh [CONNECTIONS]          (default 50000)
# Environment knobs: SERVERS="sipedge kamailio", TRANSPORT=tls|tcp,
# AUTH=1 (digest REGISTER; default plain REGISTER), SOURCES (source
# addresses, default 127.0.0.2-127.0.0.21: 20 x 28k ephemeral ports),
# CONCURRENCY (connections being set up at once, 200), SETTLE_S (3),
# HOLD_S (10: connections must still be open after this), KAM_SHM_MB (8192),
# SIP_PORT (sipedge's UDP/TCP port, TLS one above it; 5060) and ADMIN_PORT
# (9060), so it can run beside another benchmark, CARGO_TARGET_DIR,
# BENCH_BIN / SIPEDGE_BIN.
set -euo pipefail

N=${1:-50000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
TDIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=${BENCH_BIN:-$TDIR/release/sipedge-bench}
SIPEDGE=${SIPEDGE_BIN:-$TDIR/release/sipedge}
SERVERS=${SERVERS:-"sipedge kamailio"}
TRANSPORT=${TRANSPORT:-tls}
SOURCES=${SOURCES:-127.0.0.2-127.0.0.21}
CONCURRENCY=${CONCURRENCY:-200}
SETTLE_S=${SETTLE_S:-3}
HOLD_S=${HOLD_S:-10}
KAM_SHM_MB=${KAM_SHM_MB:-8192}
AUTH=${AUTH:-}
SIP_PORT=${SIP_PORT:-5060}
ADMIN_PORT=${ADMIN_PORT:-9060}
case $TRANSPORT in tls|tcp) ;; *) echo "TRANSPORT must be tls or tcp" >&2; exit 2;; esac
for t in jq kamailio openssl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 2; }; done
[[ -x $BENCH ]] || { echo "no $BENCH (cargo build --release -p sipedge-bench)" >&2; exit 2; }

# Both ends hold N sockets: the generator and the servers inherit this
# limit. Raising the hard limit needs CAP_SYS_RESOURCE; without it (e.g. a
# container capped at 20000) N is cut to what fits under it.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
MAXN=$(( $(ulimit -n) - 500 ))
if (( N > MAXN )); then
  echo "open-file limit $(ulimit -n) (hard; no CAP_SYS_RESOURCE to raise it): $N connections cut to $MAXN" >&2
  N=$MAXN
fi
WORK=$(mktemp -d /tmp/sipedge-idle.XXXXXX)
DATE=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$ROOT/bench/results"
OUT_JSON=$ROOT/bench/results/idle-$TRANSPORT-$DATE.json
SERVER_PID=""
trap 'stop_pid "$SERVER_PID"; rm -rf "$WORK"' EXIT

write_users "$N" "$WORK/users.txt"
make_test_cert

# sipedge: one shard on CPU 1, limits raised for N connections that stay idle.
sipedge_config() {
  cat <<TOML
[server]
shards = 1
cores = [1]

[[listen]]
transport = "udp"
addr = "127.0.0.1:$SIP_PORT"

[[listen]]
transport = "tcp"
addr = "127.0.0.1:$SIP_PORT"

[admin]
addr = "127.0.0.1:$ADMIN_PORT"

[log]
level = "warn"

[registrar]
domains = ["127.0.0.1"]

[limits]
tcp_idle_timeout_secs = 86400
tcp_max_connections_per_shard = 1000000
tcp_max_connections_per_ip = 1000000
TOML
  if [[ -n $AUTH ]]; then printf '\n[auth]\nusers_file = "%s"\nalgorithms = ["MD5"]\n' "$SIPEDGE_USERS"
  else printf '\n[auth]\nenabled = false\n'; fi
  sipedge_tls_listener 127.0.0.1:$((SIP_PORT + 1))
}

entries=()
for s in $SERVERS; do
  echo "-- $s: $N idle $TRANSPORT connections"
  case $s in
    sipedge)
      sipedge_config >"$WORK/sipedge.toml"
      taskset -c 1 "$SIPEDGE" run --config "$WORK/sipedge.toml" >"$WORK/sipedge.log" 2>&1 &
      SERVER_PID=$!; PROBE=127.0.0.1:$SIP_PORT
      [[ $TRANSPORT == tls ]] && TARGET=127.0.0.1:$((SIP_PORT + 1)) || TARGET=127.0.0.1:$SIP_PORT;;
    kamailio)
      start_kamailio "$WORK/kamailio.log" "$KAM_SHM_MB" -A WITH_TLS \
        -A "$( [[ -n $AUTH ]] && echo WITH_REGISTER_AUTH || echo WITH_REGISTER )"
      SERVER_PID=$!; PROBE=127.0.0.1:5080
      [[ $TRANSPORT == tls ]] && TARGET=127.0.0.1:5081 || TARGET=127.0.0.1:5080;;
    *) echo "unknown server $s" >&2; continue;;
  esac
  if ! wait_ready "$s" "$SERVER_PID" "$PROBE" "$WORK/$s.log"; then
    stop_pid "$SERVER_PID"; SERVER_PID=""
    entries+=("{\"server\":\"$s\",\"available\":false}")
    continue
  fi
  sleep 1
  taskset -c 0 "$BENCH" idle --target "$TARGET" --transport "$TRANSPORT" --connections "$N" \
    --concurrency "$CONCURRENCY" --source-ips "$SOURCES" --server-pid "$SERVER_PID" \
    --settle "$SETTLE_S" --hold "$HOLD_S" ${AUTH:+--auth} --domain 127.0.0.1 --json "$WORK/$s.json" || true
  stop_pid "$SERVER_PID"; SERVER_PID=""
  if [[ -s $WORK/$s.json ]]; then
    entries+=("{\"server\":\"$s\",\"available\":true,\"result\":$(cat "$WORK/$s.json")}")
  else
    entries+=("{\"server\":\"$s\",\"available\":false}")
  fi
done

printf '\n%-10s %8s %10s %14s %14s %12s\n' server open registered "PSS B/conn" "RSS B/conn" "reg/s"
for e in "${entries[@]}"; do
  jq -r 'select(.available) | [.server, .result.connections_open, .result.registered,
    (.result.bytes_per_conn_pss | round), (.result.bytes_per_conn_rss | round),
    (.result.registration.achieved_rate | round)] | @tsv' <<<"$e" |
    awk -F'\t' '{ printf "%-10s %8s %10s %14s %14s %12s\n", $1, $2, $3, $4, $5, $6 }'
done
jq -n --arg transport "$TRANSPORT" --arg date "$DATE" --argjson n "$N" --arg auth "${AUTH:+digest}" \
  --arg host "$(uname -n) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  --argjson servers "[$(IFS=,; echo "${entries[*]}")]" \
  '{scenario: "idle", transport: $transport, connections: $n, register: (if $auth == "" then "plain" else $auth end),
    date: $date, host: $host, servers: $servers}' >"$OUT_JSON"
echo "wrote $OUT_JSON"
