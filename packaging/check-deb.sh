#!/usr/bin/env bash
# CI's check of the Debian package: builds it (packaging/build-deb.sh),
# reads its file list and conffiles, installs it on this machine with dpkg,
# and checks what an operator gets: the binary, the unit (tune check before
# start), the sysctl profiles available but not enabled, the `sipedge`
# system user, /etc/sipedge readable by it, the installed binary accepting
# the installed config, `sipedge users` keeping the file's owner, and an
# edited config kept when the package is installed again. Purges it at the
# end. Prints "deb: N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "deb: needs root (dpkg -i)" >&2; exit 2; }

CHECK_PREFIX=deb
# shellcheck source=tests/check-lib.sh
source tests/check-lib.sh

if dpkg -s sipedge >/dev/null 2>&1; then
  echo "deb: sipedge is already installed on this machine; not touching it" >&2
  exit 2
fi
./packaging/build-deb.sh || { echo "deb: 0 passed, 1 failed"; exit 1; }
deb=$(ls -t target/debian/sipedge_*.deb | head -n1)
check "built $deb" test -s "$deb"
list=$(dpkg-deb -c "$deb")
has() { grep -q " \./$1\$" <<<"$list"; }
check "holds /usr/bin/sipedge" has usr/bin/sipedge
check "holds the systemd unit" has lib/systemd/system/sipedge.service
check "holds the commented config" has etc/sipedge/sipedge.toml
for p in general udp-heavy tcp-tls-heavy; do
  check "holds the sysctl profile $p" has "usr/share/sipedge/sysctl/$p.conf"
done
check "holds the alert rules" has usr/share/sipedge/monitoring/sipedge.rules.yml
check "holds the Grafana dashboard" has usr/share/sipedge/monitoring/grafana-dashboard.json
check "no sysctl profile enabled (nothing in /etc/sysctl.d)" bash -c "! grep -q 'etc/sysctl.d/' <<<\"\$0\"" "$list"
check "the config is a conffile (kept on upgrade)" bash -c "dpkg-deb -I '$deb' conffiles | grep -qx /etc/sipedge/sipedge.toml"

trap 'dpkg --purge sipedge >/dev/null 2>&1' EXIT
check "dpkg -i installs it" dpkg -i "$deb"
check "the system user sipedge exists" getent passwd sipedge
check "/etc/sipedge is root:sipedge 0750" test "$(stat -c %U:%G:%a /etc/sipedge)" = root:sipedge:750
check "the subscribers file is root:sipedge 0640" test "$(stat -c %U:%G:%a /etc/sipedge/users)" = root:sipedge:640
check "the unit runs tune check before start, as user sipedge" bash -c "grep -q '^ExecStartPre=-/usr/bin/sipedge tune check' /lib/systemd/system/sipedge.service && grep -q '^User=sipedge' /lib/systemd/system/sipedge.service"
check "the installed binary accepts the installed config" /usr/bin/sipedge check-config /etc/sipedge/sipedge.toml
check "the installed config names the subscribers file" grep -qx 'users_file = "/etc/sipedge/users"' /etc/sipedge/sipedge.toml
check "sipedge users add writes it, owner and mode kept" bash -c '/usr/bin/sipedge users --config /etc/sipedge/sipedge.toml add alice localhost --password pw && grep -q "^alice localhost md5=" /etc/sipedge/users && test "$(stat -c %U:%G:%a /etc/sipedge/users)" = root:sipedge:640'
check "the sipedge user can read its config and subscribers" runuser -u sipedge -- /usr/bin/sipedge check-config /etc/sipedge/sipedge.toml
echo '# edited by the operator' >>/etc/sipedge/sipedge.toml
check "installing again keeps the edited config" bash -c "dpkg -i --force-confold '$deb' && tail -n1 /etc/sipedge/sipedge.toml | grep -qx '# edited by the operator'"
check "purge removes the user" bash -c "dpkg --purge sipedge && ! getent passwd sipedge"
trap - EXIT
check_summary
