#!/usr/bin/env bash
# Scaling across shards: sipedge with 1, 2, 4, ... shards against a
# generator on the other cores, for OPTIONS, REGISTER + digest and calls
# (UDP), each a peak search of bench/compare.sh; prints each peak, ops/s per
# shard, and that per-shard figure relative to one shard's (1.00 = linear).
#   bench/scale.sh [options register-auth call]
# Shards run on CPUs 1..N; the generator on every other CPU (CPU 0 and
# N+1..), one pinned thread per CPU (sipedge-bench --threads). N doubles
# while at least as many CPUs are left for the generator as shards, so on a
# 16-CPU machine N = 1, 2, 4, 8; on this 2-CPU machine only N = 1. MAX_N
# caps N. REGISTER + digest: the kernel spreads datagrams over the shards,
# and an AOR belongs to shard_of(aor), so with N shards about (N-1)/N of
# the REGISTERs reach a shard that does not own their AOR and cross the
# mesh. A peak marked "generator" (the server's CPU stayed below 90 % at
# every step) is the generator's, not the shards'.
# Environment: STEP_S (2), MAX_N, and compare.sh's (CARGO_TARGET_DIR,
# SIPEDGE_BIN, BENCH_BIN, USERS, ...).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(options register-auth call)
CPUS=$(nproc)
MAX_N=${MAX_N:-$CPUS}
export STEP_S=${STEP_S:-2} FIXED_S=${FIXED_S:-1}

counts=()
for ((n = 1; n <= MAX_N && (n == 1 || CPUS - n >= n); n *= 2)); do counts+=("$n"); done

# gen_cpus N: every CPU but 1..N, as a taskset list.
gen_cpus() {
  local n=$1 c out=()
  for ((c = 0; c < CPUS; c++)); do ((c >= 1 && c <= n)) || out+=("$c"); done
  (IFS=,; echo "${out[*]}")
}

declare -A PEAK BOUND
for sc in "${SCENARIOS[@]}"; do
  for n in "${counts[@]}"; do
    gens=$(gen_cpus "$n")
    threads=$(cpu_list "$gens" | wc -l)
    echo "== $sc: $n shard(s) on CPUs 1-$n, generator on CPUs $gens ($threads threads)" >&2
    log=$(mktemp /tmp/sipedge-scale.XXXXXX)
    json=$(compare_json "$log" "$sc" SERVERS=sipedge SHARDS="$n" SERVER_CPUS="1-$n" GEN_CPUS="$gens" \
      GEN_THREADS="$threads" MAX_DOUBLINGS=$((6 + n))) || true
    if [[ -n $json && -f $json ]]; then
      PEAK[$sc/$n]=$(jq -r '.servers[] | select(.server == "sipedge") | .peak_rate // 0' "$json")
      BOUND[$sc/$n]=$(jq -r '.servers[] | select(.server == "sipedge") | .peak_bound // "?"' "$json")
    else
      PEAK[$sc/$n]=0; BOUND[$sc/$n]="failed"; tail -5 "$log" >&2
    fi
    rm -f "$log"
  done
done

printf '\n%-14s %7s %12s %14s %10s %10s\n' scenario shards "peak ops/s" "ops/s/shard" "vs 1 shard" "peak by"
for sc in "${SCENARIOS[@]}"; do
  one=${PEAK[$sc/1]:-0}
  for n in "${counts[@]}"; do
    p=${PEAK[$sc/$n]:-0}
    per=$((p / n))
    rel=$( ((one > 0)) && jq -n "$per / $one * 100 | round / 100" || echo "-")
    printf '%-14s %7s %12s %14s %10s %10s\n' "$sc" "$n" "$p" "$per" "$rel" "${BOUND[$sc/$n]}"
  done
done
