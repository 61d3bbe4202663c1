#!/usr/bin/env bash
# Builds target/debian/sipedge_<version>_<arch>.deb with cargo-deb (installed
# from crates.io when missing). The package's /etc/sipedge/sipedge.toml is
# the embedded default (`sipedge print-default-config`, every key
# commented) with the subscribers file set to /etc/sipedge/users.
# PGO=1: the binary built with profile-guided optimisation
# (packaging/build-pgo.sh, target/pgo) instead of the plain release build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb
if [[ ${PGO:-0} == 1 ]]; then
  ./packaging/build-pgo.sh
  export CARGO_TARGET_DIR=$PWD/target/pgo   # cargo deb takes the binary from here
else
  cargo build --release -p sipedge
fi
mkdir -p target/deb
{
  echo "# sipedge, installed by the Debian package: the embedded default, with"
  echo "# the subscribers file that 'sipedge users --config THIS add' edits."
  echo "# Check a change with 'sipedge check-config /etc/sipedge/sipedge.toml'."
  "${CARGO_TARGET_DIR:-target}/release/sipedge" print-default-config | sed 's|^users_file = ""$|users_file = "/etc/sipedge/users"|'
} >target/deb/sipedge.toml
grep -q '^users_file = "/etc/sipedge/users"$' target/deb/sipedge.toml
cargo deb --no-build -p sipedge --quiet "$@"
