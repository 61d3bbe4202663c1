#!/usr/bin/env bash
# System calls per message of sipedge at a fixed rate (issue 15).
#   bench/syscalls.sh options|call|register|register-auth RATE
# Runs bench/compare.sh SCENARIO against sipedge alone at RATE (SKIP_PEAK,
# FIXED_S=20 unless set, RT_PRIO=10 unless set; every compare.sh knob,
# e.g. SIPEDGE_BIN, passes through), and 8 s into the load counts the
# server process's system calls for MEASURE_S (10) seconds with
# `perf stat -e syscalls:sys_enter_*`. Prints each call per 1,000 messages
# received (sipedge_messages_received_total over the same seconds) and per
# UDP batch (recvmmsg = one wake of the UDP loop), then compare.sh's CPU
# per operation and latency line. Needs perf and the syscalls tracepoints.
set -euo pipefail
SCENARIO=${1:?usage: bench/syscalls.sh SCENARIO RATE}
RATE=${2:?usage: bench/syscalls.sh SCENARIO RATE}
MEASURE_S=${MEASURE_S:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CALLS="io_uring_enter recvmsg recvmmsg sendmmsg sendmsg sendto membarrier recvfrom read write writev epoll_wait futex timerfd_settime madvise mmap munmap"
events=$(for s in $CALLS; do printf 'syscalls:sys_enter_%s,' "$s"; done)
metric() { curl -s 127.0.0.1:9060/metrics | awk '/^sipedge_messages_received_total/ {s += $2} END {print s + 0}'; }

SERVERS=sipedge SKIP_PEAK=1 EQUAL_RATE=$RATE WARM_S=${WARM_S:-2} FIXED_S=${FIXED_S:-20} RT_PRIO=${RT_PRIO:-10} \
  "$ROOT/bench/compare.sh" "$SCENARIO" >"$OUT/compare.log" 2>&1 &
compare=$!
pid=""
for _ in $(seq 100); do   # the server is the process that owns the admin port
  pid=$(ss -lntpH 'sport = :9060' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  [[ -n $pid ]] && break
  sleep 0.2
done
[[ -n $pid ]] || { echo "sipedge did not start" >&2; cat "$OUT/compare.log" >&2; exit 1; }
sleep 8
m0=$(metric)
perf stat -x, -e "${events%,}" -p "$pid" -- sleep "$MEASURE_S" 2>"$OUT/perf.csv"
m1=$(metric)
wait "$compare" || true
msgs=$((m1 - m0))
echo "$SCENARIO at $RATE/s: $msgs messages received in $MEASURE_S s (server pid $pid)"
awk -F, -v m="$msgs" '
  { n = $3; sub("syscalls:sys_enter_", "", n); c[n] = $1 + 0; order[++k] = n; tot += $1 }
  END {
    b = c["recvmmsg"]
    printf "  %-16s %10s %14s %12s\n", "call", "count", "per 1,000 msg", "per batch"
    for (i = 1; i <= k; i++) if (c[order[i]] > 0)
      printf "  %-16s %10d %14.1f %12.2f\n", order[i], c[order[i]], c[order[i]] / m * 1000, (b ? c[order[i]] / b : 0)
    printf "  %-16s %10d %14.1f %12.2f\n", "all", tot, tot / m * 1000, (b ? tot / b : 0)
  }' "$OUT/perf.csv"
grep -E '^sipedge ' "$OUT/compare.log" | awk '{print "  CPU us/op over the whole run:", $5, " failures:", $6}'
grep -E '^  sipedge +p50' "$OUT/compare.log" | sed 's/^ */  latency (us): /'
