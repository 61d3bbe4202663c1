#!/usr/bin/env bash
# CI's check of the build guided by a profile (packaging/build-pgo.sh): the
# build and its training runs succeed (the script stops at a training run
# that completed nothing), the optimised binary is not the plain one, it
# carries no instrumentation (it writes no profile when it exits) and it
# serves: OPTIONS and REGISTER + digest through sipedge-bench, every
# operation answered. Prints "pgo: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHECK_PREFIX=pgo
# shellcheck source=tests/check-lib.sh
source tests/check-lib.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

built() { ./packaging/build-pgo.sh >"$ROOT/target/pgo-build.log" 2>&1; }
mkdir -p target
check "build-pgo.sh: instrumented build, eight training runs, optimised build" built
grep -q '^build-pgo: .*/target/pgo/release/sipedge$' target/pgo-build.log || tail -20 target/pgo-build.log
bin=target/pgo/release/sipedge
check "the optimised binary exists" test -x "$bin"
check "it differs from the plain release build" bash -c "! cmp -s $bin target/release/sipedge"
# An instrumented binary writes its profile where LLVM_PROFILE_FILE says
# when it exits: the build of step 1 does, the optimised one must not.
profile_written() { # binary
  local dir rc
  dir=$(mktemp -d)
  LLVM_PROFILE_FILE=$dir/sipedge.profraw "$1" --version >/dev/null
  [[ -s $dir/sipedge.profraw ]]
  rc=$?
  rm -rf "$dir"
  return $rc
}
not() { ! "$@"; }
check "the instrumented build writes a profile when it exits" profile_written target/pgo/gen/release/sipedge
check "the optimised binary writes none (not instrumented)" not profile_written "$bin"
serves() { # scenario rate
  local out json
  out=$(mktemp -d)
  json=$(compare_json "$out/log" "$1" SERVERS=base BASE_BIN="$ROOT/$bin" NO_BUILD=1 SKIP_PEAK=1 \
    EQUAL_RATE="$2" WARM_S=1 FIXED_S=3 RESULTS="$out") || return 1
  jq -e '.servers[0].equal_load | .ok > 0 and .failed == 0' "$json" >/dev/null
  local rc=$?
  rm -rf "$out"
  return $rc
}
check "it answers OPTIONS (2,000/s for 3 s, none failed)" serves options 2000
check "it answers REGISTER + digest (1,000/s for 3 s, none failed)" serves register-auth 1000
check_summary
