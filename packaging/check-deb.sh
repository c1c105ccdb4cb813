#!/usr/bin/env bash
# Checks a built .deb: its file list, its conffile, its maintainer scripts, and that the
# binary runs once unpacked into a scratch root (dpkg-deb -x, so no root rights needed).
# Usage: packaging/check-deb.sh target/debian/bigin-sync_….deb
set -euo pipefail
deb=${1:?usage: $0 PACKAGE.deb}
fail() { echo "check-deb: $*" >&2; exit 1; }

list=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for path in \
    /usr/bin/bigin-sync \
    /usr/lib/systemd/system/bigin-sync.service \
    /usr/lib/systemd/system/bigin-sync@.service \
    /etc/bigin-sync/config.toml \
    /usr/share/man/man1/bigin-sync.1.gz \
    /usr/share/man/man1/bigin-sync-run.1.gz \
    /usr/share/bash-completion/completions/bigin-sync \
    /usr/share/zsh/vendor-completions/_bigin-sync \
    /usr/share/fish/vendor_completions.d/bigin-sync.fish \
    /usr/share/doc/bigin-sync/README.md \
    /usr/share/doc/bigin-sync/bigin-sync.example.toml \
    /usr/share/doc/bigin-sync/copyright; do
    grep -qxF "$path" <<<"$list" || fail "$path is not in the package"
done
# Debian policy: nothing outside the package's own paths (no /srv, /var, /usr/local).
if grep -E '^/(srv|var|home|usr/local|opt)/' <<<"$list"; then
    fail "files outside the package's paths (above)"
fi

ctrl=$(mktemp -d)
root=$(mktemp -d)
trap 'rm -rf "$ctrl" "$root"' EXIT
dpkg-deb -e "$deb" "$ctrl"
grep -qxF /etc/bigin-sync/config.toml "$ctrl/conffiles" || fail "config.toml is not a conffile"
for script in postinst prerm postrm; do
    [ -x "$ctrl/$script" ] || fail "no executable $script"
    sh -n "$ctrl/$script" || fail "$script: syntax error"
    # Installing must never start or enable anything.
    if grep -vE '^\s*#' "$ctrl/$script" | grep -E 'systemctl[^|;]*\b(start|enable|restart)\b'; then
        fail "$script starts or enables a unit (above)"
    fi
done

dpkg-deb -x "$deb" "$root"
"$root/usr/bin/bigin-sync" --version
for unit in bigin-sync.service bigin-sync@.service; do
    grep -qxF 'ExecStart=/usr/bin/bigin-sync run' "$root/usr/lib/systemd/system/$unit" ||
        fail "$unit does not start /usr/bin/bigin-sync"
done
# The packaged binary has no sandbox: `demo` says how to get one, and fails.
if "$root/usr/bin/bigin-sync" demo --dir "$root/demo" 2>"$ctrl/demo.err"; then
    fail "demo ran in the packaged binary"
fi
grep -q 'cargo run --release -- demo' "$ctrl/demo.err" || fail "demo does not say how to get it"
echo "check-deb: $(basename "$deb") OK ($(stat -c %s "$root/usr/bin/bigin-sync") bytes binary)"
