# Shell helpers shared by bench/compare.sh and bench/idle-tls.sh (sourced,
# not run): the users both servers know, the throw-away TLS certificate both
# present, sipedge's TLS listener, starting Kamailio, waiting until a server
# answers, and stopping it; and for the scripts that drive compare.sh
# (everyday.sh, scale.sh, packaging/build-pgo.sh and check-pgo.sh), one
# run of it with its JSON's path (compare_json).

# Fixed paths: bench/kamailio/kamailio.cfg names the db_text directory,
# bench/kamailio/tls.cfg the certificate, the sipedge configs the users file.
DBT=/tmp/sipedge-bench-dbtext
TLS_DIR=/tmp/sipedge-bench-tls
SIPEDGE_USERS=/tmp/sipedge-bench-users.txt

# write_users COUNT FILE: u00000/pw00000... as the generator's users file,
# sipedge's subscribers file and Kamailio's db_text subscriber table.
write_users() {
  local n=$1 file=$2
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "u%05d pw%05d\n", i, i }' >"$file"
  awk '{ print $1 " 127.0.0.1 password=" $2 }' "$file" >"$SIPEDGE_USERS"
  mkdir -p "$DBT"
  printf 'table_name(str) table_version(int)\nsubscriber:7\n' >"$DBT/version"
  { echo 'id(int,auto) username(str) domain(str) password(str)'
    awk '{ print NR ":" $1 ":127.0.0.1:" $2 }' "$file"; } >"$DBT/subscriber"
}

# make_test_cert: an ECDSA P-256 self-signed certificate for 127.0.0.1
# (what both servers sign handshakes with), made once per machine.
make_test_cert() {
  mkdir -p "$TLS_DIR"
  [[ -s $TLS_DIR/cert.pem && -s $TLS_DIR/key.pem ]] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null
}

# sipedge_tls_listener ADDR: a [[listen]] table (appended to a sipedge config).
sipedge_tls_listener() {
  printf '\n[[listen]]\ntransport = "tls"\naddr = "%s"\ncertificates = [{ cert = "%s/cert.pem", key = "%s/key.pem" }]\n' \
    "$1" "$TLS_DIR" "$TLS_DIR"
}

# cpu_list LIST: the CPUs of a taskset list ("1-3,6"), one a line.
cpu_list() {
  local part
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
  done
}

# shield_cpus LIST SAVE: moves every thread allowed on the CPUs of LIST
# (and on some other CPU) off them for the run, so that the servers there
# share their CPUs only with per-CPU kernel threads and interrupts: a
# kernel thread on a server's CPU holds off a SCHED_FIFO server woken by a
# datagram until it reaches a preemption point (DAMON's kdamond ran for
# 0.5-4.6 ms at a time on the development VM, the ms stalls of a call run).
# The threads' masks go to SAVE ("tid mask" lines); unshield_cpus SAVE puts
# them back. Threads the kernel does not let move (per-CPU ones) stay.
shield_cpus() {
  local cpus=$1 save=$2 t tid mask allowed moved=0
  local shielded others
  shielded=$(cpu_list "$cpus" | sort)
  others=$(comm -23 <(cpu_list "0-$(($(nproc) - 1))" | sort) <(echo "$shielded") | sort -n | paste -sd,)
  [[ -z $others ]] && return 0
  : >"$save"
  for t in /proc/[0-9]*/task/[0-9]*; do
    tid=${t##*/}
    mask=$(taskset -pc "$tid" 2>/dev/null | awk -F': ' '{print $2}') || continue
    [[ -z $mask ]] && continue
    allowed=$(cpu_list "$mask" | sort)
    # only threads that may run on a shielded CPU and on some other one
    comm -12 <(echo "$allowed") <(echo "$shielded") | grep -q . || continue
    comm -23 <(echo "$allowed") <(echo "$shielded") | grep -q . || continue
    taskset -pc "$others" "$tid" >/dev/null 2>&1 && { echo "$tid $mask" >>"$save"; moved=$((moved + 1)); }
  done
  echo "shielded CPU(s) $cpus: $moved threads moved to $others for the run (SHIELD=0: not moved)"
}

unshield_cpus() {
  local tid mask
  [[ -f $1 ]] || return 0
  while read -r tid mask; do taskset -pc "$mask" "$tid" >/dev/null 2>&1 || true; done <"$1"
  rm -f "$1"
}

# compare_json LOG SCENARIO [VAR=VALUE...]: one bench/compare.sh SCENARIO
# run with the VARs as its environment and its output in LOG; prints the
# path of the JSON it wrote (nothing when it wrote none) and returns
# compare.sh's exit status.
compare_json() {
  local log=$1 scenario=$2 rc=0
  shift 2
  env "$@" "$(dirname "${BASH_SOURCE[0]}")/compare.sh" "$scenario" >"$log" 2>&1 || rc=$?
  awk '/^wrote / {print $2}' "$log"
  return $rc
}

# How idle CPUs wait here, for the record of a run: the cpuidle driver and,
# in a guest with cpuidle-haltpoll, how long an idle vCPU polls before it
# halts (guest_halt_poll_ns; 0: it halts at once, and every wake-up of a
# sleeping server or generator is an IPI through the host).
HALT_POLL=/sys/module/haltpoll/parameters/guest_halt_poll_ns
idle_policy() {
  local drv polling c
  drv=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)
  if [[ -r $HALT_POLL ]]; then drv="$drv, guest_halt_poll_ns=$(cat $HALT_POLL)"; fi
  polling=$(for c in /sys/devices/system/cpu/cpu[0-9]*/power/pm_qos_resume_latency_us; do
    if [[ $(cat "$c" 2>/dev/null) == n/a ]]; then c=${c#/sys/devices/system/cpu/cpu}; echo "${c%%/*}"; fi
  done | sort -n | paste -sd,) || true
  echo "cpuidle $drv${polling:+, never halting (PM QoS): CPU $polling}"
}

# sysfs_set SAVE FILE VALUE: VALUE written to FILE for the run, the old
# value appended to SAVE, from which sysfs_restore puts every file back.
# Used for the idle policy: guest_halt_poll_ns ($HALT_POLL) and a CPU's PM
# QoS resume latency ("n/a": cpuidle then only polls, the CPU never halts;
# for the generator's CPUs: on a VM whose idle vCPUs halt at once, every
# answer to a generator that went to sleep waits for an IPI through the
# host, and that wait lands in the latency it reports).
sysfs_set() {
  [[ -w $2 ]] || { echo "no writable $2" >&2; return 1; }
  echo "$2 $(cat "$2")" >>"$1"
  echo "$3" >"$2"
}

sysfs_restore() {
  local f v
  [[ -f $1 ]] || return 0
  while read -r f v; do echo "$v" >"$f" || true; done <"$1"
  rm -f "$1"
}

# start_kamailio LOG SHM_MB -A DEFINE...: Kamailio pinned to CPU 1 in the
# background ($! is its main process). -x tlsf: its fast allocator;
# -DD -E: foreground, log to stderr.
start_kamailio() {
  local log=$1 shm=$2; shift 2
  ${RT:-} taskset -c 1 kamailio -f "$ROOT/bench/kamailio/kamailio.cfg" -DD -E -x tlsf -m "$shm" -M 16 "$@" >"$log" 2>&1 &
}

# wait_ready NAME PID UDP_TARGET LOG: polls with OPTIONS (any answer counts)
# until the server answers; 1 when it exited or stays silent for 6 s.
wait_ready() {
  local name=$1 pid=$2 target=$3 log=$4 probe
  probe=$(mktemp /tmp/sipedge-probe.XXXXXX)
  for _ in $(seq 1 30); do
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || { echo "  ($name exited: $(tail -3 "$log" | tr '\n' ' '))"; rm -f "$probe"; return 1; }
    if taskset -c 0 "$BENCH" options --target "$target" --expect-any --concurrency 1 --duration 0.2 \
        --warmup 0 --timeout-ms 200 --quiet --json "$probe" 2>/dev/null &&
       [[ $(jq .ok "$probe") -gt 0 ]]; then
      rm -f "$probe"; return 0
    fi
  done
  rm -f "$probe"; echo "  ($name does not answer)"; return 1
}

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; Kamailio's children follow
# their main process.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
