#!/usr/bin/env bash
# Propagation between edges: how long after a REGISTER on edge A moves a
# binding does edge B route to it (B caching the AOR, invalidated through
# Redis pub/sub). Two real edges and a real redis-server on loopback; prints
# p50/p90/p99/max over 200 moves (tests/cluster.rs, the ignored benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release --test cluster -- --ignored --nocapture propagation_from_a_register 2>&1 | grep -E "propagation|test result"
