#!/usr/bin/env bash
# Builds the .deb: the production binary (profile `dist`, no sandbox), then the man pages,
# shell completions and units with package paths generated from that very binary, then
# `cargo deb --no-build`. Prints the path of the .deb on its last line.
#
# Needs cargo-deb (`cargo install --locked cargo-deb`). Usage: packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
# Must agree with [package.metadata.deb] in Cargo.toml (profile, features) and with its
# assets, which name target/release/… : cargo-deb maps that prefix to this profile's dir.
profile=dist
out="$target_dir/$profile"
gen="$out/pkg"

cargo build --locked --profile "$profile" --no-default-features --bin bigin-sync
bin="$out/bigin-sync"

rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions" "$gen/systemd"
"$bin" man --dir "$gen/man"
# Debian policy: man pages gzipped, reproducibly (-n: no name or time stamp).
gzip -9n "$gen"/man/*.1
"$bin" completions bash >"$gen/completions/bigin-sync"
"$bin" completions zsh >"$gen/completions/_bigin-sync"
"$bin" completions fish >"$gen/completions/bigin-sync.fish"
# The units in systemd/ describe a manual install under /usr/local; the package's binary
# and README live under /usr.
for unit in systemd/bigin-sync.service systemd/bigin-sync@.service; do
    sed -e 's|/usr/local/bin/bigin-sync|/usr/bin/bigin-sync|g' \
        -e 's|/usr/local/share/doc/bigin-sync|/usr/share/doc/bigin-sync|g' \
        "$unit" >"$gen/systemd/$(basename "$unit")"
done

cargo deb --locked --no-build --profile "$profile" --no-default-features --output "$target_dir/debian/" >&2
ls -t "$target_dir"/debian/bigin-sync_*.deb | head -1
