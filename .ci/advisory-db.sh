#!/usr/bin/env bash
# Puts the RustSec advisory snapshot where deny.toml's db-path expects it, as the git
# checkout cargo-deny reads offline (see ../shared/crate-notes.md).
# Usage: .ci/advisory-db.sh [SNAPSHOT_DIR]   (default: ../shared/rustsec-advisory-db)
set -euo pipefail
cd "$(dirname "$0")/.."

src=${1:-../shared/rustsec-advisory-db}
# The folder name is the hash cargo-deny derives from the default database URL.
dest=target/advisory-db/advisory-db-3157b0e258782691
[ -d "$src" ] || { echo "no advisory snapshot at $src" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
cp -a "$src/." "$dest/"
rm -rf "$dest/.git"
# cargo-deny judges staleness by the commit date: give it the snapshot's own date.
date=$(awk '{print $2}' "$src/SNAPSHOT" 2>/dev/null || true)
(
    cd "$dest"
    git init -q
    git add -A
    GIT_AUTHOR_DATE=${date:-now} GIT_COMMITTER_DATE=${date:-now} \
        git -c user.name=ci -c user.email=ci@localhost -c commit.gpgsign=false \
        commit -q -m "RustSec advisory-db snapshot ${date:-}"
)
