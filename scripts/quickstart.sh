#!/usr/bin/env bash
# The user guide's steps 1 to 8 (docs: borg's quickstart, with hoard in place of borg), run for
# real on a sample tree made here: init, create Monday, create --stats Tuesday, list, list the
# archive, extract, delete, compact. Everything lives in a temporary folder that is removed at the
# end (set KEEP=1 to keep it). Expects a build (npm run build); `npm run quickstart` does both.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
hoard() { node "$root/dist/hoard.mjs" "$@"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hoard-quickstart-XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT

# A sample home: some source files, documents, a larger binary file and a symlink.
mkdir -p "$work/home/src/lib" "$work/home/Documents"
for i in $(seq 1 12); do
  printf 'module %d: backups that are fast, deduplicated and encrypted\n' "$i" > "$work/home/src/lib/m$i.txt"
done
head -c 3000000 /dev/urandom > "$work/home/Documents/photo.raw"
printf 'Dear diary,\ntoday I made a backup.\n' > "$work/home/Documents/diary.txt"
ln -s lib/m1.txt "$work/home/src/first"

# Isolated from the user's own keys, caches and security state.
export HOARD_CONFIG_DIR="$work/config" HOARD_CACHE_DIR="$work/cache"
export HOARD_PASSPHRASE="quickstart passphrase (set your own with HOARD_PASSPHRASE)"
cd "$work/home"
repo="$work/repo"

step() { printf '\n\033[1m%s\033[0m\n$ hoard %s\n' "$1" "${*:2}"; hoard "${@:2}"; }

step "1. Make a repository (the passphrase comes from HOARD_PASSPHRASE here)" init --encryption=repokey "$repo"
step "2. Back up src and Documents into an archive called Monday" create "$repo::Monday" src Documents
printf 'one more line\n' >> src/lib/m1.txt
printf 'A new document\n' > Documents/new.txt
step "3. The next day, a new archive: only changed data is stored (see Deduplicated size)" create --stats "$repo::Tuesday" src Documents
step "4. List the archives" list "$repo"
step "5. List the files of Monday" list "$repo::Monday"
mkdir "$work/restore" && cd "$work/restore"
step "6. Restore Monday into the current folder ($work/restore)" extract "$repo::Monday"
diff -r "$work/restore/Documents/photo.raw" "$work/home/Documents/photo.raw" && printf '(restored photo.raw is identical)\n'
step "7. Delete Monday (its data stays while Tuesday needs it)" delete "$repo::Monday"
step "8. Free the space of deleted archives" compact --verbose "$repo"
step "Check the repository and every byte of its data" check --verify-data "$repo"
printf '\nDone: a real backup and restore in %s.\n' "$work"
