#!/usr/bin/env bash
# Points a NIC's queues at the shards' CPUs (see README.md):
#  - each queue's IRQ to one shard CPU, round-robin (queue i -> CPU i);
#  - RPS: off when there are at least as many receive queues as shard CPUs,
#    else every receive queue spreads its packets over all shard CPUs;
#  - XPS: each shard CPU transmits on one queue (CPU k -> queue k mod queues).
# Dry run by default: prints each write; --apply does them (as root).
#
#   tuning/nic-queues.sh IFACE CPULIST [--apply] [--irqs "N N ..."]
#   tuning/nic-queues.sh eth0 2-7        # shards on CPUs 2-7 (server.cores)
#
# The queues' IRQs are the lines of /proc/interrupts that name IFACE
# (eth0-TxRx-0, ...); drivers that name them otherwise (mlx5_comp0, virtio0-input.0)
# need --irqs, in queue order. irqbalance moves IRQs back: stop it, or ban
# these CPUs (IRQBALANCE_BANNED_CPULIST). Lasts until reboot or link reset.
set -euo pipefail
. "$(dirname "$0")/common.sh"

iface="" cpulist="" irqlist=""
while (($#)); do
  case $1 in
    --apply) APPLY=1 ;;
    --irqs) irqlist=${2:?--irqs needs a list}; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) if [[ -z $iface ]]; then iface=$1; elif [[ -z $cpulist ]]; then cpulist=$1; else usage; fi ;;
  esac
  shift
done
[[ -n $iface && -n $cpulist ]] || usage

dev=$SYSFS/class/net/$iface
[[ -d $dev ]] || die "no interface $iface ($dev)"
read -ra cpus <<<"$(expand_cpus "$cpulist")"
((${#cpus[@]})) || die "no CPU in $cpulist"

queues() { # rx or tx: queue numbers, ascending
  local q
  for q in "$dev"/queues/"$1"-*; do [[ -e $q ]] && echo "${q##*-}"; done | sort -n
}
mapfile -t rxq < <(queues rx)
mapfile -t txq < <(queues tx)

if [[ -n $irqlist ]]; then
  read -ra irqs <<<"$irqlist"
else
  mapfile -t irqs < <(awk -v ifc="$iface" '$NF ~ "^"ifc"[-_]" { sub(":", "", $1); print $1 }' "$PROCFS/interrupts")
fi

echo "# $iface: ${#rxq[@]} receive, ${#txq[@]} transmit queues, ${#irqs[@]} queue IRQs; shard CPUs $(compress_cpus "${cpus[@]}")"
if ((APPLY == 0)); then echo "# dry run: nothing written (add --apply)"; fi
if command -v pgrep >/dev/null && pgrep -x irqbalance >/dev/null; then
  echo "# warning: irqbalance is running and will move these IRQs back" >&2
fi

if ((${#irqs[@]} == 0)); then
  echo "# no IRQ of /proc/interrupts names $iface: pass them with --irqs (queue order)" >&2
fi
for i in "${!irqs[@]}"; do
  put "${cpus[i % ${#cpus[@]}]}" "$PROCFS/irq/${irqs[i]}/smp_affinity_list"
done

if ((${#rxq[@]} >= ${#cpus[@]})); then
  rps=0 # every shard CPU has a queue of its own: no software spreading
else
  rps=$(cpu_mask "${cpus[@]}")
fi
for q in "${rxq[@]}"; do
  put "$rps" "$dev/queues/rx-$q/rps_cpus"
done

for j in "${!txq[@]}"; do
  mine=()
  for k in "${!cpus[@]}"; do
    ((k % ${#txq[@]} == j)) && mine+=("${cpus[k]}")
  done
  if ((${#mine[@]})); then xps=$(cpu_mask "${mine[@]}"); else xps=0; fi
  put "$xps" "$dev/queues/tx-${txq[j]}/xps_cpus"
done
exit "$FAILED"
