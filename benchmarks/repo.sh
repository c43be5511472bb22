#!/usr/bin/env bash
# hoard's repository benchmark beside borg 1.2, borg 2 and restic: installs the missing ones
# (Debian's borgbackup, borgbackup2, restic) when this runs as root, then runs benchmarks/repo.py.
# hoard is measured from dist/hoard.mjs with binding/'s addon: run `npm run build` (release) first.
# Usage: benchmarks/repo.sh [--quick] [--runs N] [--work DIR] [--verify] [--json] ...
#        (benchmarks/repo.py --help lists every option)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v borg >/dev/null || missing+=(borgbackup)
command -v borg2 >/dev/null || missing+=(borgbackup2)
command -v restic >/dev/null || missing+=(restic)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "not root: cannot install ${missing[*]}; those tools are skipped" >&2
  fi
fi
[ -f dist/hoard.mjs ] || echo "dist/hoard.mjs missing: hoard is skipped (run \`npm run build\` first)" >&2
exec python3 benchmarks/repo.py "$@"
