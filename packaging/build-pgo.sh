#!/usr/bin/env bash
# Builds sipedge with profile-guided optimisation: target/pgo/release/sipedge.
#   1. an instrumented build (-Cprofile-generate) in target/pgo/gen;
#   2. a training run: sipedge-bench drives it through bench/compare.sh with
#      OPTIONS, REGISTER, REGISTER + digest and calls, over UDP and TCP, at
#      everyday rates (each run must succeed, or the build stops);
#   3. the profiles merged with the llvm-profdata of rustc's own LLVM major
#      (Debian package llvm-<major>, installed when missing) and the release
#      build made from them (-Cprofile-use) in target/pgo.
# What it buys (README, "A build guided by a profile"): a third less of the
# shard's own CPU time per REGISTER + digest, little where the kernel's
# wake, receive and send are most of a message. `PGO=1 packaging/build-deb.sh`
# packages this binary. Takes about three release builds' time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/pgo
# shellcheck source=bench/lib.sh
source bench/lib.sh
major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
PROFDATA=/usr/lib/llvm-$major/bin/llvm-profdata
if [[ ! -x $PROFDATA ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "llvm-$major" >/dev/null ||
    { echo "build-pgo: needs llvm-profdata of LLVM $major, rustc's (Debian package llvm-$major)" >&2; exit 2; }
fi

profiles=$OUT/profiles
cargo build --release -p sipedge-bench
RUSTFLAGS="-Cprofile-generate=$profiles" cargo build --release -p sipedge --target-dir "$OUT/gen"
# The build scripts were instrumented too and wrote their own profiles: only
# the training's go in.
rm -rf "$profiles" "$OUT/training"
mkdir -p "$OUT/training"
for transport in udp tcp; do
  for run in "options 20000" "register 10000" "register-auth 4000" "call 2000"; do
    read -r scenario rate <<<"$run"
    log=$OUT/training/$scenario-$transport.log
    json=$(compare_json "$log" "$scenario" TRANSPORT="$transport" SERVERS=base BASE_BIN="$OUT/gen/release/sipedge" \
      NO_BUILD=1 SKIP_PEAK=1 EQUAL_RATE="$rate" WARM_S=2 FIXED_S=8 RESULTS="$OUT/training") ||
      { echo "build-pgo: training run $scenario over $transport failed: $log" >&2; exit 1; }
    [[ -f $json ]] || { echo "build-pgo: training run $scenario over $transport wrote no result: $log" >&2; exit 1; }
    ok=$(jq '.servers[0].equal_load.ok // 0' "$json")
    ((ok > 0)) || { echo "build-pgo: training run $scenario over $transport completed nothing: $log" >&2; exit 1; }
    echo "build-pgo: trained on $scenario over $transport at $rate/s ($ok done)"
  done
done
"$PROFDATA" merge -o "$OUT/sipedge.profdata" "$profiles"
RUSTFLAGS="-Cprofile-use=$OUT/sipedge.profdata" cargo build --release -p sipedge --target-dir "$OUT"
echo "build-pgo: $OUT/release/sipedge"
