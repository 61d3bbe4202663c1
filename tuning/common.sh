# Shared by the tuning scripts (sourced, not run): CPU lists, CPU masks,
# and `put`, which prints a write in a dry run and does it with --apply.
#
# SIPEDGE_SYSFS / SIPEDGE_PROCFS / SIPEDGE_ETC point the scripts at another
# tree than /sys, /proc and /etc (the tests use a fake one).
# shellcheck disable=SC2034 # the variables are the scripts' that source this

SYSFS=${SIPEDGE_SYSFS:-/sys}
PROCFS=${SIPEDGE_PROCFS:-/proc}
ETC=${SIPEDGE_ETC:-/etc}
APPLY=0
FAILED=0

# The calling script's header comment, as its help; exit 2.
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
}

die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# "0-3,8,10-11" -> "0 1 2 3 8 10 11"
expand_cpus() {
  local part a b c
  local -a parts out=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    [[ -z $part ]] && continue
    [[ $part =~ ^[0-9]+(-[0-9]+)?$ ]] || die "not a CPU list: $1"
    if [[ $part == *-* ]]; then
      a=${part%-*} b=${part#*-}
      for ((c = a; c <= b; c++)); do out+=("$c"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[@]}"
}

# "0 1 2 3 8" -> "0-3,8" (input ascending)
compress_cpus() {
  local res="" start="" prev="" c
  for c in "$@" ""; do
    if [[ -n $prev && $c == $((prev + 1)) ]]; then
      prev=$c
      continue
    fi
    if [[ -n $start ]]; then
      [[ -n $res ]] && res+=,
      if [[ $start == "$prev" ]]; then res+=$start; else res+=$start-$prev; fi
    fi
    start=$c prev=$c
  done
  echo "$res"
}

# CPUs -> the hex mask sysfs takes: 32-bit words, most significant first,
# separated by commas ("1,00000004" is CPUs 2 and 32). No CPU: "0".
cpu_mask() {
  local c i max=0 mask=""
  local -a words=()
  for c in "$@"; do ((c > max)) && max=$c; done
  for ((i = 0; i <= max / 32; i++)); do words[i]=0; done
  for c in "$@"; do words[c / 32]=$((words[c / 32] | 1 << (c % 32))); done
  for ((i = max / 32; i >= 0; i--)); do
    if [[ -z $mask ]]; then mask=$(printf '%x' "${words[i]}"); else mask+=$(printf ',%08x' "${words[i]}"); fi
  done
  echo "$mask"
}

# put VALUE FILE: a dry run prints the command, --apply writes.
put() {
  if ((APPLY)); then
    if printf '%s\n' "$1" >"$2" 2>/dev/null; then
      echo "wrote   $1 > $2"
    else
      echo "FAILED  $1 > $2" >&2
      FAILED=1
    fi
  else
    echo "echo $1 > $2"
  fi
}
