# Sourced by the shell checks (tests/readme-smoke.sh, packaging/check-deb.sh).
# Set CHECK_PREFIX first. `check NAME COMMAND...` runs COMMAND quietly and
# counts it as passed or failed; `check_summary` prints "PREFIX: N passed,
# N failed" (the line tests/run.sh adds to its closing count) and returns
# non-zero when a check failed.
passed=0
failed=0
check() { # name, command...
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1))
    echo "$CHECK_PREFIX: ok   $name"
  else
    failed=$((failed + 1))
    echo "$CHECK_PREFIX: FAIL $name"
  fi
}
check_summary() {
  echo "$CHECK_PREFIX: $passed passed, $failed failed"
  ((failed == 0))
}
