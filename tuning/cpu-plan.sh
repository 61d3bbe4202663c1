#!/usr/bin/env bash
# Suggests where the shards should run for a NIC (see README.md): CPUs on
# the NIC's NUMA node, one per physical core (SMT siblings left idle), the
# first HOUSEKEEPING cores of the node kept for the kernel, other IRQs and
# sipedge's main, admin and logger threads. Prints server.cores,
# CPUAffinity= and the commands for the other scripts. Changes nothing.
#
#   tuning/cpu-plan.sh IFACE [--housekeeping N]      (default 1 core)
set -euo pipefail
. "$(dirname "$0")/common.sh"

iface="" keep=1
while (($#)); do
  case $1 in
    --housekeeping) keep=${2:?--housekeeping needs a number}; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) [[ -z $iface ]] || usage; iface=$1 ;;
  esac
  shift
done
[[ -n $iface ]] || usage
[[ $keep =~ ^[0-9]+$ ]] || die "--housekeeping takes a number of cores"

dev=$SYSFS/class/net/$iface
[[ -d $dev ]] || die "no interface $iface ($dev)"
node=$(cat "$dev/device/numa_node" 2>/dev/null || echo -1)
if [[ -r $dev/device/local_cpulist ]]; then
  local_cpus=$(cat "$dev/device/local_cpulist")
else
  local_cpus=$(cat "$SYSFS/devices/system/cpu/online")
fi
read -ra local_list <<<"$(expand_cpus "$local_cpus")"
nrx=$(find "$dev/queues" -maxdepth 1 -name 'rx-*' 2>/dev/null | wc -l)

# One CPU per physical core: the first of its thread siblings.
cores=() siblings=()
for c in "${local_list[@]}"; do
  sib_file=$SYSFS/devices/system/cpu/cpu$c/topology/thread_siblings_list
  if [[ -r $sib_file ]]; then read -ra sib <<<"$(expand_cpus "$(cat "$sib_file")")"; else sib=("$c"); fi
  if [[ ${sib[0]} == "$c" ]]; then cores+=("$c"); else siblings+=("$c"); fi
done
((${#cores[@]} > keep)) || die "$iface's node has ${#cores[@]} cores: nothing left for shards after $keep housekeeping"
housekeeping=("${cores[@]:0:keep}")
shards=("${cores[@]:keep}")

s=$(compress_cpus "${shards[@]}")
echo "NIC $iface: NUMA node $node, $nrx receive queues, local CPUs $(compress_cpus "${local_list[@]}")"
echo "housekeeping CPUs (kernel, other IRQs, sipedge's other threads): $(compress_cpus "${housekeeping[@]}")"
echo "shard CPUs, one per physical core: $s (${#shards[@]} shards)"
((${#siblings[@]} == 0)) || echo "SMT siblings left idle: $(compress_cpus "${siblings[@]}")"
echo
list="${shards[*]}"
echo "sipedge.toml:     [server] cores = [${list// /, }]"
read -ra allowed <<<"$(printf '%s\n' "${housekeeping[@]}" "${shards[@]}" | sort -n | tr '\n' ' ')"
echo "sipedge.service:  CPUAffinity=$(compress_cpus "${allowed[@]}")"
echo "NIC queues:       tuning/nic-queues.sh $iface $s"
echo "isolation:        tuning/isolate-cpus.sh $s"
if ((nrx >= ${#shards[@]})); then
  echo "steering:         server.steering = \"cbpf\": each shard CPU has a receive queue of its own"
else
  echo "steering:         $nrx queues for ${#shards[@]} shards: RPS spreads them (nic-queues.sh does it), then server.steering = \"cbpf\""
fi
