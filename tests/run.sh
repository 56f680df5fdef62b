#!/usr/bin/env bash
# README's second command: the whole test suite (unit, property, integration
# and end-to-end tests with real processes, RocksDB and gRPC over loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/env.sh

cargo build --locked --workspace --all-targets
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast
else
  cargo test --locked --workspace --no-fail-fast
fi
