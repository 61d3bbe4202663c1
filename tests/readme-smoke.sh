#!/usr/bin/env bash
# The README's set-up commands, as a newcomer types them. The first one
# (run sipedge on its embedded default) is read out of README.md, started
# verbatim from the repository root, and checked the way a person would:
# sipsak gets 200 to OPTIONS over UDP and over TCP on 127.0.0.1:5060, and
# /metrics answers on 127.0.0.1:9060. The second one must be what CI runs
# (.ci/run). Prints one closing line "readme: N passed, N failed"; exits
# non-zero when a check failed. Called by tests/run.sh after the build.
set -uo pipefail
cd "$(dirname "$0")/.."

# The fenced sh blocks of the "## Set up" section, in order.
blocks() {
  awk '/^## Set up/ { s = 1; next } /^## / { s = 0 } s && /^```sh/ { b = 1; next } s && /^```/ { b = 0; n++; next } s && b { print n + 0 "\t" $0 }' README.md
}
run_cmd=$(blocks | awk -F'\t' '$1 == 0 { print $2 }')
test_cmd=$(blocks | awk -F'\t' '$1 == 1 { print $2 }')

CHECK_PREFIX=readme
# shellcheck source=tests/check-lib.sh
source tests/check-lib.sh

check "the README has a run command and a test command" test -n "$run_cmd" -a -n "$test_cmd"
check "CI runs the README's test command ($test_cmd)" grep -qxF "exec $test_cmd" .ci/run

for port in 5060 9060; do
  if ss -Hltnu "sport = :$port" | grep -q .; then
    echo "readme: port $port is taken on this machine; the embedded default needs it" >&2
  fi
done

log=$(mktemp)
# Its own process group, so stopping it stops cargo and the edge it runs.
setsid bash -c "$run_cmd" >"$log" 2>&1 &
pgid=$!
stop() { kill -TERM -- "-$pgid" 2>/dev/null; wait "$pgid" 2>/dev/null; }
trap stop EXIT

up() { curl -fsS --max-time 1 http://127.0.0.1:9060/health; }
deadline=$((SECONDS + 300)) # cargo may still have to link the binary
until up >/dev/null 2>&1 || ((SECONDS > deadline)) || ! kill -0 "$pgid" 2>/dev/null; do sleep 0.5; done

check "\`$run_cmd\` serves /health" up
check "OPTIONS over UDP answered 200 (sipsak)" sipsak -s sip:smoke@127.0.0.1:5060
check "OPTIONS over TCP answered 200 (sipsak)" sipsak -E tcp -s sip:smoke@127.0.0.1:5060
check "/metrics serves sipedge metrics" bash -c 'curl -fsS --max-time 2 http://127.0.0.1:9060/metrics | grep -q "^sipedge_"'

stop
trap - EXIT
check "it stops on SIGTERM" bash -c "! kill -0 $pgid 2>/dev/null"
if ((failed)); then
  echo "readme: the run command's output:" >&2
  tail -n 30 "$log" >&2
fi
rm -f "$log"
check_summary
