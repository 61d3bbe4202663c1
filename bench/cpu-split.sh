#!/usr/bin/env bash
# Where a server's CPU per operation goes (issue 15): user, system and
# interrupt time on the server's CPU, for each server at one fixed rate.
#   bench/cpu-split.sh SCENARIO RATE
# Runs bench/compare.sh SCENARIO once per server of SERVERS ("kamailio
# sipedge echo"; the echo floor answers UDP only, not calls) with
# SKIP_PEAK, EQUAL_RATE=RATE, FIXED_S (20) and RT_PRIO (10); every other
# compare.sh knob (ARRIVALS, SIPEDGE_BIN, NO_BUILD, ...) passes through.
# MEASURE_S (6) seconds into the steady part of each run it reads the
# server CPU's line of /proc/stat (SERVER_CPUS, a single CPU: 1) and prints
# microseconds per operation of user, system and irq + softirq time, and
# their sum, with the sum's ratio to Kamailio's. The server runs alone on
# that CPU, so the line is the server's own time; irq + softirq is the
# kernel's work for the server's sockets that the process's own CPU time
# (what compare.sh reports) leaves out. With the echo floor beside them:
# the system and interrupt parts are the cost of waking, receiving and
# sending, which no server avoids; the user part is the server's own work.
set -euo pipefail
SCENARIO=${1:?usage: bench/cpu-split.sh SCENARIO RATE}
RATE=${2:?usage: bench/cpu-split.sh SCENARIO RATE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVERS=${SERVERS:-"kamailio sipedge echo"}
[[ $SCENARIO == call ]] && SERVERS=${SERVERS/echo/}
CPU=${SERVER_CPUS:-1}
[[ $CPU =~ ^[0-9]+$ ]] || { echo "SERVER_CPUS must be one CPU" >&2; exit 2; }
FIXED_S=${FIXED_S:-20}
MEASURE_S=${MEASURE_S:-6}
WARM_S=${WARM_S:-2}
((FIXED_S >= MEASURE_S + 6)) || { echo "FIXED_S must be at least MEASURE_S + 6" >&2; exit 2; }
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
HZ=$(getconf CLK_TCK)

# user (+ nice), system, irq + softirq ticks of the server's CPU
ticks() { awk -v c="cpu$CPU" '$1 == c {print $2 + $3, $4, $7 + $8}' /proc/stat; }

echo "$SCENARIO at $RATE/s, CPU $CPU, ${MEASURE_S}s measured (ARRIVALS=${ARRIVALS:-ticks}); us per operation"
printf '  %-10s %8s %8s %12s %8s %10s\n' server user system irq+softirq sum x-kamailio
kam=""
for s in $SERVERS; do
  SERVERS=$s SKIP_PEAK=1 EQUAL_RATE=$RATE WARM_S=$WARM_S FIXED_S=$FIXED_S RT_PRIO=${RT_PRIO:-10} \
    "$ROOT/bench/compare.sh" "$SCENARIO" >"$LOG" 2>&1 &
  run=$!
  # the server starts, the generator warms up, then 3 s of steady load
  sleep $((WARM_S + 6))
  read -r u0 s0 q0 < <(ticks)
  sleep "$MEASURE_S"
  read -r u1 s1 q1 < <(ticks)
  wait "$run" || true
  grep -qE "^$s " "$LOG" || { echo "  $s: no result (see compare.sh)"; continue; }
  line=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v q=$((q1 - q0)) -v hz="$HZ" -v ops=$((RATE * MEASURE_S)) \
    'BEGIN {k = 1e6 / hz / ops; printf "%.2f %.2f %.2f %.2f", u * k, s * k, q * k, (u + s + q) * k}')
  read -r us ss qs sum <<<"$line"
  [[ $s == kamailio ]] && kam=$sum
  ratio=$([[ -n $kam ]] && awk -v a="$sum" -v b="$kam" 'BEGIN {printf "%.2f", a / b}' || echo -)
  printf '  %-10s %8s %8s %12s %8s %10s\n' "$s" "$us" "$ss" "$qs" "$sum" "$ratio"
done
