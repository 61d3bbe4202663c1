#!/usr/bin/env bash
# Side-by-side benchmark: Kamailio vs sipedge (vs the UDP echo floor), one
# CPU each for the server (CPU 1) and the load generator (CPU 0).
#   bench/compare.sh options|register|register-auth|call|register-auth-tls|tls-handshake
# register-auth-tls: register-auth over TLS (persistent connections);
# tls-handshake: a new TLS connection per OPTIONS (connect, full handshake,
# OPTIONS -> 200, close). Any other scenario runs over TLS with TRANSPORT=tls
# (Kamailio's TLS listener is 127.0.0.1:5081, sipedge's 127.0.0.1:5061).
# Environment knobs: TRANSPORT=udp|tcp|tls, SERVERS="kamailio sipedge echo",
# STEP_S (seconds per peak-search step, 2), FIXED_S (equal-load run, 4),
# START_RATE, MAX_DOUBLINGS (6), DIGEST=md5|sha256 (register-auth),
# USERS (count, 1000), CARGO_TARGET_DIR, BENCH_BIN / SIPEDGE_BIN (binary paths),
# NO_BUILD=1 (do not try to build a missing sipedge), RESULTS (where the
# JSON goes: bench/results), EQUAL_RATE (the
# equal-load rate instead of half the lower peak), TRACE=RULE (sipedge
# traces RULE, e.g. OPTIONS: every request, through `sipedge ctl trace add`),
# BASE_BIN=PATH with "base" in SERVERS (another sipedge binary, e.g. the
# previous commit's, run the same way in the same run: its column is "base").
# SKIP_PEAK=1: no peak search, only the equal-load run at EQUAL_RATE (a
# steady state: e.g. EQUAL_RATE=3000 WARM_S=40 FIXED_S=60; WARM_S is the
# warm-up of every run). SAMPLE_S=N: during the equal-load run, sipedge's
# (and base's) sipedge_timers_pending, sipedge_transactions_active and RSS
# are sampled every N seconds and printed after the table.
# Where things run (bench/scale.sh sets these): SERVER_CPUS (1: sipedge,
# base and echo; Kamailio always on CPU 1), SHARDS (1: sipedge's shard
# count, its shards on the first SHARDS of SERVER_CPUS), GEN_CPUS (0) and
# GEN_THREADS (1: generator threads, one per CPU of GEN_CPUS); for calls with
# several, sipedge's upstreams are every thread's UAS, 5070 + i).
# ARRIVALS=ticks|poisson: how the generator spaces requests (sipedge-bench
# --arrivals): "ticks" (default) starts what is due whenever its loop runs,
# so requests follow answers in small bursts; "poisson" sends independent
# arrivals, each at its own microsecond, as many unrelated devices would.
# RT_PRIO=N: servers and generator run SCHED_FIFO at priority N (chrt), so
# that other work on a shared machine (builds) does not preempt them: a
# single-threaded shard loses whole CFS time slices (ms) to a competing
# process where Kamailio's several workers interleave; use it to measure the
# servers rather than the neighbours, and say so beside the figures.
# SHIELD=1 (default): every other thread that may run on the servers'
# CPUs is moved off them for the run (lib.sh shield_cpus; SHIELD=0 leaves
# them). Each peak is marked "generator" when the server's CPU (sipedge: its
# busiest shard's) never reached 90 % of a core in any step of the search:
# the generator, not the server, set that peak.
# HALT_POLL_NS=N: in a VM guest with cpuidle-haltpoll, idle vCPUs poll N ns
# before halting, for this run only (restored after; lib.sh sysfs_set).
# GEN_POLL=1: the generator's CPUs (GEN_CPUS) poll instead of halting when
# idle, for this run only (their PM QoS resume latency): the generator's own wake-ups
# then stay out of the latency it reports; the servers' CPUs are untouched.
# Both servers run under the same settings; every run prints the idle
# policy it ran under ("idle:") and the JSON keeps it.
# GEN_LAG=1 (UDP): the generator also times how late it reads each answer
# (kernel receive stamp to recvmmsg: its own wake-up and loop, which the
# server does not spend) and the latency lines print its mean/p50/p99 as
# "gen read lag". The kernel then stamps every packet, the servers' too.
# "kamailio-redis" in SERVERS: Kamailio with usrloc written through to a
# real redis-server (db_redis, db_mode 1), Redis on CPU 0 as for "cluster".
# "named" in SERVERS (call): sipedge with its upstream given by name
# (`sip:uas.bench.test;transport=udp`: SRV, then A/AAAA) from a real
# dnsmasq on 127.0.0.53 (CPU 0, TTL 60 s); after its equal-load run the
# script prints DNS queries per 1,000 calls and the resolver's lookup time.
# "cluster" in SERVERS: sipedge with [cluster] on, its location in a real
# redis-server (on CPU 0 beside the generator: this machine has two); after
# its equal-load run the script prints Redis commands per operation (from
# INFO commandstats) and Redis memory per binding.
set -euo pipefail

SCENARIO=${1:?usage: bench/compare.sh options|register|register-auth|call|register-auth-tls|tls-handshake}
# BASE: the generator's scenario (and sipedge's config) behind SCENARIO
PER_OP_CONN=""
case "$SCENARIO" in
  options|register|register-auth|call) BASE=$SCENARIO;;
  register-auth-tls) BASE=register-auth; TRANSPORT=tls;;
  tls-handshake) BASE=options; TRANSPORT=tls; PER_OP_CONN=1;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
TDIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=${BENCH_BIN:-$TDIR/release/sipedge-bench}
SIPEDGE=${SIPEDGE_BIN:-$TDIR/release/sipedge}
TRANSPORT=${TRANSPORT:-udp}
SERVERS=${SERVERS:-"kamailio sipedge echo"}
STEP_S=${STEP_S:-2}
SERVER_CPUS=${SERVER_CPUS:-1}
SHARDS=${SHARDS:-1}
GEN_CPUS=${GEN_CPUS:-0}
GEN_THREADS=${GEN_THREADS:-1}
ARRIVALS=${ARRIVALS:-ticks}
RT=""
[[ -n ${RT_PRIO:-} ]] && RT="chrt -f $RT_PRIO"
export RT
WARM_S=${WARM_S:-0.5}
FIXED_S=${FIXED_S:-4}
MAX_DOUBLINGS=${MAX_DOUBLINGS:-6}
USERS=${USERS:-1000}
DIGEST=${DIGEST:-md5}
FAIL_LIMIT=0.001          # < 0.1 % failures
case "$SCENARIO" in
  options) START_RATE=${START_RATE:-5000};;
  register) START_RATE=${START_RATE:-2500};;
  register-auth|register-auth-tls) START_RATE=${START_RATE:-1000};;
  call|tls-handshake) START_RATE=${START_RATE:-250};;
esac
# the echo floor answers UDP datagrams only
[[ $TRANSPORT == tls ]] && SERVERS=${SERVERS/echo/}
WORK=$(mktemp -d /tmp/sipedge-compare.XXXXXX)
DATE=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${RESULTS:-$ROOT/bench/results}
mkdir -p "$RESULTS"
OUT_JSON=$RESULTS/$SCENARIO-$DATE.json

# ---- prerequisites -------------------------------------------------------
need_apt=()
[[ $SERVERS == *kamailio* ]] && { command -v kamailio >/dev/null || need_apt+=(kamailio); }
command -v jq >/dev/null || need_apt+=(jq)
[[ $SERVERS == *cluster* || $SERVERS == *redis* ]] && { command -v redis-server >/dev/null || need_apt+=(redis-server redis-tools); }
[[ $SERVERS == *named* && ! -x /usr/sbin/dnsmasq ]] && need_apt+=(dnsmasq-base)
[[ $SERVERS == *kamailio-redis* && ! -f /usr/lib/x86_64-linux-gnu/kamailio/modules/db_redis.so ]] && need_apt+=(kamailio-redis-modules)
if ((${#need_apt[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if [[ ! -x $BENCH ]] || [[ ! -x $SIPEDGE && -z ${NO_BUILD:-} ]]; then
  (cd "$ROOT" && cargo build --release --workspace) || {
    echo "workspace build failed; building the generator alone (sipedge will be skipped)" >&2
    (cd "$ROOT" && cargo build --release -p sipedge-bench)
  }
fi

SERVER_PID=""
REDIS_PID=""
REDIS_PORT=6391
DNS_PID=""
DNS_ADDR=127.0.0.53:5353
cleanup() {
  stop_server
  unshield_cpus "$WORK/shield"
  sysfs_restore "$WORK/idle-saved"
  rm -rf "$WORK"
}

start_redis() {
  taskset -c 0 redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT PING >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "  (redis-server did not start)"; return 1
}

# dnsmasq for the "named" server: the generator's UAS (127.0.0.1:5070) as
# SRV records of uas.bench.test, every query logged.
start_dns() {
  printf 'port=%s\nlisten-address=%s\nbind-interfaces\nno-resolv\nno-hosts\nuser=root\npid-file=\nlog-queries\nlog-facility=%s\nlocal-ttl=60\nlocal=/bench.test/\nsrv-host=_sip._udp.uas.bench.test,uas.bench.test,5070,10,1\nsrv-host=_sip._tcp.uas.bench.test,uas.bench.test,5070,10,1\nhost-record=uas.bench.test,127.0.0.1\n' \
    "${DNS_ADDR##*:}" "${DNS_ADDR%:*}" "$WORK/dns-queries.log" >"$WORK/dnsmasq.conf"
  : >"$WORK/dns-queries.log"
  taskset -c 0 /usr/sbin/dnsmasq -k --conf-file="$WORK/dnsmasq.conf" >"$WORK/dnsmasq.out" 2>&1 &
  DNS_PID=$!
  sleep 0.3
}

# After the named server's equal-load run: DNS queries per 1,000 calls and
# the resolver's mean lookup time (its sipedge_dns_resolve_seconds summary).
dns_report() { # ops
  local queries sum count
  queries=$(grep -c 'query\[' "$WORK/dns-queries.log" || true)
  read -r sum count < <(curl -s 127.0.0.1:9060/metrics | awk '/^sipedge_dns_resolve_seconds_sum/ {s += $2} /^sipedge_dns_resolve_seconds_count/ {c += $2} END {print s+0, c+0}')
  echo "   dns (named): $queries queries for $1 calls ($(jq -n "$queries / ($1 + 0.0001) * 1000 * 100 | round / 100") per 1,000);" \
    "$count lookups, mean $(jq -n "$sum / ($count + 0.0001) * 1e6 | round") us each (cold, off the shard)"
}

# The [cluster] table the "cluster" server runs with.
cluster_table() {
  printf '\n[cluster]\nenabled = true\nnode = "bench"\nredis = "redis://127.0.0.1:%s"\npeer_addr = "127.0.0.1:5060"\n' $REDIS_PORT
}
trap cleanup EXIT
if [[ -n ${HALT_POLL_NS:-} ]]; then
  sysfs_set "$WORK/idle-saved" "$HALT_POLL" "$HALT_POLL_NS" || { echo "HALT_POLL_NS: not a guest with cpuidle-haltpoll" >&2; exit 2; }
fi
if [[ ${GEN_POLL:-0} == 1 ]]; then
  for gen_cpu in $(cpu_list "$GEN_CPUS"); do
    sysfs_set "$WORK/idle-saved" "/sys/devices/system/cpu/cpu$gen_cpu/power/pm_qos_resume_latency_us" n/a || { echo "GEN_POLL: no PM QoS for CPU $gen_cpu" >&2; exit 2; }
  done
fi
IDLE=$(idle_policy)
echo "idle: $IDLE"
# The servers' CPUs (and Kamailio's CPU 1) to themselves: lib.sh shield_cpus.
[[ ${SHIELD:-1} == 1 ]] && shield_cpus "$(cpu_list "$SERVER_CPUS,1" | sort -nu | paste -sd,)" "$WORK/shield"

# ---- users (generator, sipedge and Kamailio's db_text subscriber table) ---
write_users "$USERS" "$WORK/users.txt"
[[ $TRANSPORT == tls ]] && make_test_cert

# ---- servers ---------------------------------------------------------------
start_server() { # name -> sets SERVER_PID, TARGET; returns 1 if unavailable
  local name=$1
  case $name in
    kamailio|kamailio-redis)
      local defs=()
      case $BASE in
        options) defs=(-A WITH_OPTIONS);;
        register) defs=(-A WITH_REGISTER);;
        register-auth) defs=(-A WITH_REGISTER_AUTH); [[ $DIGEST == sha256 ]] && defs+=(-A WITH_SHA256);;
        call) defs=(-A WITH_CALL);;
      esac
      [[ $TRANSPORT == tls ]] && defs+=(-A WITH_TLS)
      if [[ $name == kamailio-redis ]]; then
        start_redis || return 1
        redis-cli -p $REDIS_PORT FLUSHALL >/dev/null
        redis-cli -p $REDIS_PORT HSET version:entry::location table_name location table_version 9 >/dev/null
        REDIS_BASE=$(redis-cli -p $REDIS_PORT INFO memory | awk -F: '/^used_memory:/ {print $2+0}')
        defs+=(-A WITH_REDIS)
      fi
      start_kamailio "$WORK/kamailio.log" 512 "${defs[@]}"
      SERVER_PID=$!; TARGET=127.0.0.1:5080; PROBE=$TARGET
      [[ $TRANSPORT == tls ]] && TARGET=127.0.0.1:5081;;
    sipedge|base|cluster|named)
      local bin=$SIPEDGE
      [[ $name == base ]] && bin=${BASE_BIN:-}
      [[ -x $bin ]] || { echo "  (no $name binary: ${bin:-set BASE_BIN})"; return 1; }
      sed "s/^algorithms = .*/algorithms = [\"$( [[ $DIGEST == sha256 ]] && echo SHA-256 || echo MD5 )\"]/" \
        "$ROOT/bench/sipedge-$BASE.toml" >"$WORK/sipedge.toml"
      # Calls with several generator threads: thread i's UAS listens on
      # 5070 + i, and Kamailio relays to each call's Request-URI (its own
      # thread's UAS); sipedge gets every UAS as an upstream of equal weight
      # (first attempts shared by Call-ID), else one UAS thread would carry
      # every call.
      if [[ $BASE == call && $GEN_THREADS -gt 1 && $name != named ]]; then
        local ups
        ups=$(for ((i = 0; i < GEN_THREADS; i++)); do printf '{ addr = "127.0.0.1:%d", transport = "udp" },' $((5070 + i)); done)
        sed -i "s|^upstreams = .*|upstreams = [${ups%,}]|" "$WORK/sipedge.toml"
      fi
      [[ $TRANSPORT == tcp ]] && sed -i 's/transport = "udp" }/transport = "tcp" }/g' "$WORK/sipedge.toml"
      sed -i "s/^shards = .*/shards = $SHARDS/; s/^cores = .*/cores = [$(cpu_list "$SERVER_CPUS" | head -n "$SHARDS" | paste -sd,)]/" "$WORK/sipedge.toml"
      [[ $TRANSPORT == tls ]] && sipedge_tls_listener 127.0.0.1:5061 >>"$WORK/sipedge.toml"
      if [[ $name == cluster ]]; then
        start_redis || return 1
        redis-cli -p $REDIS_PORT FLUSHALL >/dev/null
        REDIS_BASE=$(redis-cli -p $REDIS_PORT INFO memory | awk -F: '/^used_memory:/ {print $2+0}')
        # one key for every edge of a cluster: a fixed one here
        grep -q '^\[proxy\]' "$WORK/sipedge.toml" \
          && sed -i "/^\[proxy\]/a topology_key = \"$(printf 'ab%.0s' $(seq 32))\"" "$WORK/sipedge.toml" \
          || printf '\n[proxy]\ntopology_key = "%s"\n' "$(printf 'ab%.0s' $(seq 32))" >>"$WORK/sipedge.toml"
        cluster_table >>"$WORK/sipedge.toml"
      fi
      if [[ $name == named ]]; then
        [[ $BASE == call ]] || { echo "  (named: call only)"; return 1; }
        start_dns
        sed -i 's|addr = "127.0.0.1:5070"|addr = "sip:uas.bench.test"|' "$WORK/sipedge.toml"
        printf '\n[dns]\nservers = ["%s"]\n' "$DNS_ADDR" >>"$WORK/sipedge.toml"
      fi
      $RT taskset -c "$SERVER_CPUS" "$bin" run --config "$WORK/sipedge.toml" >"$WORK/$name.log" 2>&1 &
      SERVER_PID=$!; TARGET=127.0.0.1:5060; PROBE=$TARGET
      [[ $TRANSPORT == tls ]] && TARGET=127.0.0.1:5061;;
    echo)
      $RT taskset -c "$SERVER_CPUS" "$BENCH" echo --listen 127.0.0.1:5099 >"$WORK/echo.log" 2>&1 &
      SERVER_PID=$!; TARGET=127.0.0.1:5099; PROBE=$TARGET;;
  esac
  # ready when anything answers (over UDP)
  wait_ready "$name" "$SERVER_PID" "$PROBE" "$WORK/$name.log" || { stop_server; return 1; }
  if [[ -n ${TRACE:-} && $name == sipedge ]]; then
    "$SIPEDGE" ctl --admin 127.0.0.1:9060 trace add "$TRACE" >/dev/null || { echo "  (trace add $TRACE failed)"; stop_server; return 1; }
  fi
}

stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  stop_pid "$REDIS_PID"
  REDIS_PID=""
  stop_pid "$DNS_PID"
  DNS_PID=""
}

# After the cluster's equal-load run: round trips to Redis per operation
# (the edge's own count, pipelined batches), scripts run per operation,
# and Redis memory per binding (used_memory over the empty server's, read
# before it stops; the bindings counted with a SCAN here, off the edge).
redis_report() { # server ops
  local name=$1 ops=$2 trips commands bindings mem
  commands=$(redis-cli -p $REDIS_PORT INFO commandstats | awk -F'[=,:]' '/^cmdstat_/ && !/cmdstat_(info|config|scan|hlen|dbsize)/ {s += $3} END {print s+0}')
  if [[ $name == cluster ]]; then
    # pipelined: the edge counts its round trips; scripts run inside count as commands
    trips=$(curl -s 127.0.0.1:9060/metrics | awk '/^sipedge_cluster_redis_round_trips_total/ {s += $2} END {print s+0}')
    bindings=$(redis-cli -p $REDIS_PORT --scan --pattern 'sipedge:loc:*' | while read -r k; do redis-cli -p $REDIS_PORT HLEN "$k"; done | awk '{s += $1} END {print s+0}')
  else
    # db_redis: one command per round trip; one hash per contact
    trips=$commands
    bindings=$(redis-cli -p $REDIS_PORT --scan --pattern 'location:entry::*' | wc -l)
  fi
  mem=$(redis-cli -p $REDIS_PORT INFO memory | awk -F: '/^used_memory:/ {print $2+0}')
  echo "   redis ($name): $(jq -n "$trips / ($ops + 0.0001) * 100 | round / 100") round trips and $(jq -n "$commands / ($ops + 0.0001) * 100 | round / 100") commands per op ($trips, $commands for $ops ops);" \
    "$bindings bindings, $(jq -n "($mem - $REDIS_BASE) / ($bindings + 0.0001) | round") bytes each (used_memory $mem, empty $REDIS_BASE)"
}

# shard_ticks PID: "tid ticks" (utime + stime) of each shard thread of PID.
shard_ticks() {
  local f
  for f in /proc/"$1"/task/*; do
    [[ $(cat "$f/comm" 2>/dev/null) == shard-* ]] || continue
    awk '{sub(/^.*\) /, ""); print FILENAME, $12 + $13}' "$f/stat" 2>/dev/null
  done
}

# run_load NAME RATE DURATION OUTFILE
run_load() {
  local name=$1 rate=$2 dur=$3 out=$4 extra=() before after
  [[ $name == echo ]] && extra+=(--expect-any)
  [[ ${GEN_LAG:-0} == 1 ]] && extra+=(--read-lag)
  [[ -n $PER_OP_CONN ]] && extra+=(--connection-per-op --source-ips 127.0.0.2-127.0.0.33)
  case $BASE in
    register|register-auth) extra+=(--users "$WORK/users.txt" --domain 127.0.0.1);;
    call) extra+=(--uas-listen 127.0.0.1:5070)
          [[ $TRANSPORT == tcp ]] && extra+=(--ruri "sip:uas@127.0.0.1:5070;transport=tcp");;
  esac
  before=$(shard_ticks "$SERVER_PID")
  $RT taskset -c "$GEN_CPUS" "$BENCH" "$BASE" --target "$TARGET" --transport "$TRANSPORT" --rate "$rate" --arrivals "$ARRIVALS" --threads "$GEN_THREADS" \
    --duration "$dur" --warmup "$WARM_S" --sockets 8 --timeout-ms 1000 --server-pid "$SERVER_PID" \
    --quiet --json "$out" "${extra[@]}" || echo '{"ok":0,"failure_ratio":1,"achieved_rate":0}' >"$out"
  after=$(shard_ticks "$SERVER_PID")
  # The busiest shard's CPU, % of its core: its share of the shards' CPU
  # over the whole run, times the process's CPU over the measured window
  # (the share is steady; the run's wall time includes start and warm-up).
  # With several shards one saturated shard sets the peak while the
  # process as a whole still has CPU to spare.
  if [[ -n $before ]]; then
    local share
    share=$(awk 'NR == FNR {b[$1] = $2; next} {d = $2 - b[$1]; s += d; if (d > m) m = d} END {printf "%.4f", (s > 0 ? m / s : 0)}' \
      <(echo "$before") <(echo "$after"))
    jq --argjson share "$share" \
      'if .server_cpu_s then . + {busiest_shard_pct: ([$share * .server_cpu_s / .window_s * 100, 100] | min | round)} else . end' \
      "$out" >"$out.tmp" && mv "$out.tmp" "$out"
  fi
}

passes() { # json rate -> exit 0 when < 0.1 % failures and the rate was really offered
  # With Poisson arrivals a step's count is itself random (standard deviation
  # the square root of the count): 4 of those below the rate still passes,
  # else a 250/s step of 2 s (500 arrivals, sd 4.5 %) failed by chance.
  jq -e --argjson r "$2" --argjson lim "$FAIL_LIMIT" --arg arrivals "$ARRIVALS" \
    '(if $arrivals == "poisson" then [0.05, 4 / (($r * .window_s) | sqrt)] | max else 0.05 end) as $tol
     | .failure_ratio < $lim and .ok > 0 and .achieved_rate >= (1 - $tol) * $r' "$1" >/dev/null
}

find_peak() { # name -> echo peak rate (0 if none)
  local name=$1 rate=$START_RATE good=0 bad=0 i
  for ((i = 0; i <= MAX_DOUBLINGS; i++)); do
    run_load "$name" "$rate" "$STEP_S" "$WORK/$name-step-$rate.json"
    if passes "$WORK/$name-step-$rate.json" "$rate"; then good=$rate; rate=$((rate * 2))
    else bad=$rate; break; fi
  done
  if ((bad > 0 && good > 0)); then   # two bisection steps between good and bad
    for _ in 1 2; do
      local mid=$(((good + bad) / 2))
      run_load "$name" "$mid" "$STEP_S" "$WORK/$name-step-$mid.json"
      if passes "$WORK/$name-step-$mid.json" "$mid"; then good=$mid; else bad=$mid; fi
    done
  fi
  echo "$good"
}

# The highest CPU (% of one core) over NAME's peak-search steps: of its
# busiest shard where that was measured (sipedge), else of the server.
server_cpu_max() { # name
  cat "$WORK/$1"-step-*.json 2>/dev/null |
    jq -s 'map(.busiest_shard_pct // (select(.server_cpu_s != null) | .server_cpu_s / .window_s * 100)) | max // 0 | round'
}

# Who set NAME's peak: the server (its CPU, or one of its shards', reached
# 90 % of a core in some step) or the generator (the server had CPU to
# spare at every rate offered).
peak_bound() { # name
  local cpu
  cpu=$(server_cpu_max "$1")
  if ((cpu >= 90)); then echo "server"; else echo "generator"; fi
}

# sample_metrics NAME PID FILE: every SAMPLE_S seconds, a line "seconds
# timers_pending transactions_active rss_kB" for a sipedge server, until killed.
sample_metrics() {
  local name=$1 pid=$2 file=$3 t0 m
  t0=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    m=$(curl -s --max-time 1 127.0.0.1:9060/metrics || true)
    printf '%s %s %s %s\n' "$(($(date +%s) - t0))" \
      "$(awk '/^sipedge_timers_pending/ {s += $2} END {print s+0}' <<<"$m")" \
      "$(awk '/^sipedge_transactions_active/ {s += $2} END {print s+0}' <<<"$m")" \
      "$(ps -o rss= -p "$pid" | xargs)" >>"$file"
    sleep "$SAMPLE_S"
  done
}

declare -A PEAK
declare -A BOUND
if [[ -n ${SKIP_PEAK:-} ]]; then
  echo "== $SCENARIO over $TRANSPORT: no peak search (SKIP_PEAK)"
  for s in $SERVERS; do PEAK[$s]="-"; BOUND[$s]="-"; done
  : "${EQUAL_RATE:?SKIP_PEAK needs EQUAL_RATE}"
else
echo "== $SCENARIO over $TRANSPORT: peak search (open loop, ${STEP_S}s steps, start $START_RATE/s)"
for s in $SERVERS; do
  echo "-- $s"
  if start_server "$s"; then
    PEAK[$s]=$(find_peak "$s")
    BOUND[$s]=$(peak_bound "$s")
    echo "   peak (<0.1% failures): ${PEAK[$s]} ops/s, set by the ${BOUND[$s]} ($( [[ $s == kamailio* || $s == echo ]] && echo "server" || echo "busiest shard") CPU at most $(server_cpu_max "$s") %)"
    stop_server
  else
    PEAK[$s]=""
  fi
done
fi

# common rate: half of the lower of the two servers' peaks (echo excluded)
low=""
for s in kamailio sipedge; do
  p=${PEAK[$s]:-}
  [[ $p =~ ^[0-9]+$ && $p -gt 0 ]] && { [[ -z $low || $p -lt $low ]] && low=$p; }
done
COMMON=$(( ${low:-$START_RATE} / 2 ))
((COMMON < 50)) && COMMON=50
[[ -n ${EQUAL_RATE:-} ]] && COMMON=$EQUAL_RATE
echo "== equal load: $COMMON ops/s for ${FIXED_S}s each"
for s in $SERVERS; do
  [[ -z ${PEAK[$s]:-} ]] && continue
  if start_server "$s"; then
    [[ $s == cluster || $s == kamailio-redis ]] && redis-cli -p $REDIS_PORT CONFIG RESETSTAT >/dev/null
    SAMPLER=""
    if [[ -n ${SAMPLE_S:-} && ( $s == sipedge || $s == base ) ]]; then
      sample_metrics "$s" "$SERVER_PID" "$WORK/$s-samples.txt" &
      SAMPLER=$!
    fi
    run_load "$s" "$COMMON" "$FIXED_S" "$WORK/$s-fixed.json"
    [[ -n $SAMPLER ]] && { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; }
    [[ $s == cluster || $s == kamailio-redis ]] && redis_report "$s" "$(jq -r '.ok' "$WORK/$s-fixed.json")"
    [[ $s == named ]] && dns_report "$(jq -r '.ok' "$WORK/$s-fixed.json")"
    stop_server
  fi
done

# ---- table + JSON ------------------------------------------------------------
printf '\n%-10s %12s %10s %14s %14s %12s %10s %8s\n' server "peak ops/s" "peak by" "p99 us @eq" "CPU us/op @eq" "fail @eq" "gen CPU%" "ratio"
kcpu=$( [[ -f $WORK/kamailio-fixed.json ]] && jq -r '.server_cpu_us_per_op // empty' "$WORK/kamailio-fixed.json" || true)
entries=()
for s in $SERVERS; do
  f=$WORK/$s-fixed.json
  if [[ -z ${PEAK[$s]:-} || ! -f $f ]]; then
    printf '%-10s %12s\n' "$s" "n/a"
    entries+=("{\"server\":\"$s\",\"available\":false}")
    continue
  fi
  cpu=$(jq -r '.server_cpu_us_per_op // "n/a"' "$f")
  ratio="-"
  if [[ $s != kamailio && $s != echo && -n $kcpu && $cpu != n/a ]]; then ratio=$(jq -n "$cpu / $kcpu * 1000 | round / 1000"); fi
  printf '%-10s %12s %10s %14s %14s %11s%% %10s %8s\n' "$s" "${PEAK[$s]}" "${BOUND[$s]:-}" "$(jq -r .latency_us.p99 "$f")" \
    "$(printf '%.2f' "$( [[ $cpu == n/a ]] && echo 0 || echo "$cpu")")" \
    "$(jq -r '.failure_ratio * 100 | . * 1000 | round / 1000' "$f")" "$(jq -r .generator_cpu_pct "$f")" "$ratio"
  [[ -n ${SKIP_PEAK:-} ]] && { entries+=("{\"server\":\"$s\",\"available\":true,\"equal_load\":$(cat "$f")}"); continue; }
  steps=$(jq -s 'map({configured_rate, achieved_rate, failure_ratio, p99_us: .latency_us.p99, server_cpu_us_per_op, busiest_shard_pct, generator_cpu_pct})' "$WORK/$s"-step-*.json)
  entries+=("{\"server\":\"$s\",\"available\":true,\"peak_rate\":${PEAK[$s]},\"peak_bound\":\"${BOUND[$s]}\",\"steps\":$steps,\"equal_load\":$(cat "$f")}")
done
echo "(ratio = sipedge CPU us/op / kamailio CPU us/op at the equal load; p99 at the equal load = half of the lower peak;"
echo " peak by = generator when the server's CPU (sipedge: its busiest shard's) stayed below 90 % in every step: that peak is the generator's)"
echo "latency at the equal load ($COMMON ops/s), us:"
for s in $SERVERS; do
  f=$WORK/$s-fixed.json
  [[ -f $f ]] && printf '  %-10s p50 %s  p90 %s  p99 %s  p999 %s  max %s  (server CPU %s %%)%s\n' "$s" \
    $(jq -r '.latency_us | "\(.p50) \(.p90) \(.p99) \(.p999) \(.max)"' "$f") \
    "$(jq -r 'if .server_cpu_s then (.server_cpu_s / .window_s * 1000 | round / 10) else "n/a" end' "$f")" \
    "$(jq -r 'if .read_lag_us then "  gen read lag mean \(.read_lag_us.mean) p50 \(.read_lag_us.p50) p99 \(.read_lag_us.p99)" else "" end' "$f")"
done
for s in $SERVERS; do
  [[ -s $WORK/$s-samples.txt ]] || continue
  echo "$s during the equal-load run (seconds since start, incl. ${WARM_S}s warm-up): timers_pending transactions_active rss_kB"
  sed 's/^/  /' "$WORK/$s-samples.txt"
  cp "$WORK/$s-samples.txt" "$RESULTS/$SCENARIO-$DATE-$s-samples.txt"
done
jq -n --arg scenario "$SCENARIO" --arg transport "$TRANSPORT" --arg date "$DATE" --argjson common "$COMMON" \
  --arg host "$(uname -n) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  --arg idle "$IDLE" --argjson servers "[$(IFS=,; echo "${entries[*]}")]" \
  '{scenario: $scenario, transport: $transport, date: $date, host: $host, idle: $idle, equal_load_rate: $common, servers: $servers}' >"$OUT_JSON"
echo "wrote $OUT_JSON"
