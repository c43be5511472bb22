#!/usr/bin/env bash
# hoard benchmark cpu beside borg 2's: installs borg 2 (Debian's borgbackup2) when missing and
# this runs as root, makes the release build of the addon, then runs benchmarks/cpu.py.
# Usage: benchmarks/cpu.sh [--quick] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v borg2 >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq borgbackup2 >/dev/null
fi
command -v borg2 >/dev/null || echo "borg2 not installed: only hoard's numbers are shown" >&2

# The release addon goes to benchmarks/out, so that binding/ (maybe a debug build) is left alone.
cargo build --release --quiet -p hoard-node
mkdir -p benchmarks/out
cp target/release/libhoard_node.so benchmarks/out/hoard.node
[ -f dist/hoard.mjs ] || npm run --silent build:ts
python3 benchmarks/cpu.py "$@"
