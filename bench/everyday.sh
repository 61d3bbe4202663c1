#!/usr/bin/env bash
# Where operators live: for each scenario and transport, a peak search of
# bench/compare.sh (Kamailio, sipedge, and the echo floor over UDP), then
# CPU per operation and latency at 25, 50 and 75 % of Kamailio's peak
# (one equal-load run per fraction, all servers in it), printed as one
# table with sipedge's CPU per operation as a ratio to Kamailio's.
#   bench/everyday.sh [options register register-auth call]
# Environment: TRANSPORTS ("udp tcp"), FRACTIONS ("25 50 75"), SERVERS
# ("kamailio sipedge"; add "base" with BASE_BIN=<older sipedge> for a
# before/after column in the same run), FIXED_S (10) and WARM_S (2) of each
# equal-load run, RT_PRIO, and compare.sh's others (SIPEDGE_BIN, BENCH_BIN,
# NO_BUILD, CARGO_TARGET_DIR, ARRIVALS). KPEAKS="options/udp=160000
# call/udp=4000 ...": Kamailio's peak for those scenario/transport pairs,
# whose peak search is then skipped. Over UDP the echo floor runs at each
# equal load too (not for calls): what answering costs with nothing to
# do but wake, receive and send. Every compare.sh JSON lands in
# bench/results as usual; the summary goes to stdout and to
# bench/results/everyday-<date>.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(options register register-auth call)
TRANSPORTS=${TRANSPORTS:-"udp tcp"}
FRACTIONS=${FRACTIONS:-"25 50 75"}
SERVERS=${SERVERS:-"kamailio sipedge"}
export FIXED_S=${FIXED_S:-10} WARM_S=${WARM_S:-2}
OUT=$ROOT/bench/results/everyday-$(date -u +%Y%m%dT%H%M%SZ).txt

# run LOG ARGS...: compare.sh on $SC with ARGS as environment, its JSON path out.
run() {
  local log=$1; shift
  compare_json "$log" "$SC" "$@" || true
}

# field JSON SERVER JQ: one figure of one server ("-" when absent).
field() {
  jq -r --arg s "$2" ".servers[] | select(.server == \$s) | $3 // \"-\"" "$1" 2>/dev/null || echo -
}

rows=()
for SC in "${SCENARIOS[@]}"; do
  for tr in $TRANSPORTS; do
    servers=$SERVERS
    [[ $tr == udp ]] && servers="$servers echo"
    eq_servers=$SERVERS
    [[ $tr == udp && $SC != call ]] && eq_servers="$SERVERS echo"
    kpeak=""
    for kp in ${KPEAKS:-}; do [[ ${kp%%=*} == "$SC/$tr" ]] && kpeak=${kp#*=}; done
    if [[ -n $kpeak ]]; then
      rows+=("$(printf '%-14s %-4s peak/s: kamailio=%s (given, KPEAKS)' "$SC" "$tr" "$kpeak")")
    else
      echo "== $SC over $tr: peak search ($servers)" >&2
      log=$(mktemp /tmp/sipedge-everyday.XXXXXX)
      json=$(run "$log" TRANSPORT="$tr" SERVERS="$servers")
      if [[ -z $json || ! -f $json ]]; then
        echo "   failed:" >&2; tail -5 "$log" >&2; rm -f "$log"; continue
      fi
      rm -f "$log"
      peaks=""
      for s in $servers; do peaks="$peaks $s=$(field "$json" "$s" .peak_rate)($(field "$json" "$s" .peak_bound))"; done
      rows+=("$(printf '%-14s %-4s peak/s:%s' "$SC" "$tr" "$peaks")")
      kpeak=$(field "$json" kamailio .peak_rate)
    fi
    [[ $kpeak =~ ^[0-9]+$ && $kpeak -gt 0 ]] || { echo "   no Kamailio peak: no equal-load runs" >&2; continue; }
    for f in $FRACTIONS; do
      rate=$((kpeak * f / 100))
      echo "== $SC over $tr at $f % of Kamailio's peak ($rate/s)" >&2
      log=$(mktemp /tmp/sipedge-everyday.XXXXXX)
      json=$(run "$log" TRANSPORT="$tr" SERVERS="$eq_servers" SKIP_PEAK=1 EQUAL_RATE="$rate")
      rm -f "$log"
      [[ -n $json && -f $json ]] || { echo "   failed" >&2; continue; }
      line=$(printf '%-14s %-4s %3s%% %7s/s' "$SC" "$tr" "$f" "$rate")
      kus=$(field "$json" kamailio .equal_load.server_cpu_us_per_op)
      for s in $eq_servers; do
        us=$(field "$json" "$s" .equal_load.server_cpu_us_per_op)
        fail=$(field "$json" "$s" .equal_load.failure_ratio)
        p99=$(field "$json" "$s" .equal_load.latency_us.p99)
        p999=$(field "$json" "$s" .equal_load.latency_us.p999)
        ratio=-
        [[ $s != kamailio && $us != - && $kus != - ]] && ratio=$(jq -n "$us / $kus * 100 | round / 100")
        line="$line | $s ${us}us x$ratio p99 $p99 p999 $p999 fail $fail"
      done
      rows+=("$line")
    done
  done
done

{
  echo "bench/everyday.sh ${SCENARIOS[*]} (TRANSPORTS=\"$TRANSPORTS\" SERVERS=\"$SERVERS\" FIXED_S=$FIXED_S WARM_S=$WARM_S RT_PRIO=${RT_PRIO:-} ARRIVALS=${ARRIVALS:-ticks}), $(date -u +%FT%TZ)"
  echo "sipedge $(git -C "$ROOT" rev-parse --short HEAD); CPU in us per operation at each rate, xN = that / Kamailio's; latency in us"
  printf '%s\n' "${rows[@]}"
} | tee "$OUT"
echo "wrote $OUT"
