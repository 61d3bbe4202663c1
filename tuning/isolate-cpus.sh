#!/usr/bin/env bash
# Keeps the kernel's own work off the shards' CPUs (see README.md): prints
# the kernel command line that isolates them,
#   isolcpus=managed_irq,domain,CPUS  no scheduler balancing, no managed IRQs
#   nohz_full=CPUS                    no timer tick while one task runs
#   rcu_nocbs=CPUS                    RCU callbacks run elsewhere
#   irqaffinity=OTHERS                other IRQs on the housekeeping CPUs
# Dry run by default; --apply writes it to /etc/default/grub.d/60-sipedge-isolation.cfg
# (then run update-grub and reboot).
#
#   tuning/isolate-cpus.sh CPULIST [--apply]
#   tuning/isolate-cpus.sh 2-7
#
# The shards are pinned there by server.cores; the unit's CPUAffinity= must
# hold them and the housekeeping CPUs, where sipedge's other threads run.
set -euo pipefail
. "$(dirname "$0")/common.sh"

cpulist=""
while (($#)); do
  case $1 in
    --apply) APPLY=1 ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) [[ -z $cpulist ]] || usage; cpulist=$1 ;;
  esac
  shift
done
[[ -n $cpulist ]] || usage

read -ra shards <<<"$(expand_cpus "$cpulist")"
read -ra online <<<"$(expand_cpus "$(cat "$SYSFS/devices/system/cpu/online")")"
housekeeping=()
for c in "${online[@]}"; do
  [[ " ${shards[*]} " == *" $c "* ]] || housekeeping+=("$c")
done
for c in "${shards[@]}"; do
  [[ " ${online[*]} " == *" $c "* ]] || die "CPU $c is not online"
done
((${#housekeeping[@]})) || die "leave at least one CPU to the kernel and sipedge's other threads"

iso=$(compress_cpus "${shards[@]}")
hk=$(compress_cpus "${housekeeping[@]}")
params="isolcpus=managed_irq,domain,$iso nohz_full=$iso rcu_nocbs=$iso irqaffinity=$hk"
echo "# shard CPUs $iso isolated; housekeeping CPUs $hk"
echo "# kernel command line: $params"
line="GRUB_CMDLINE_LINUX=\"\$GRUB_CMDLINE_LINUX $params\""
if ((APPLY)); then
  mkdir -p "$ETC/default/grub.d"
  put "$line" "$ETC/default/grub.d/60-sipedge-isolation.cfg"
  echo "# now: update-grub (or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
else
  echo "# dry run: nothing written (add --apply)"
  put "$line" "$ETC/default/grub.d/60-sipedge-isolation.cfg"
fi
exit "$FAILED"
