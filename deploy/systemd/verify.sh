#!/usr/bin/env bash
# Checks the units with systemd-analyze verify: their syntax, directives
# this systemd knows, and that ExecStart runs an executable. The units
# name /usr/local/bin/qvt, which the checking machine need not have, so
# copies naming BINARY instead are checked.
#
#   deploy/systemd/verify.sh BINARY
set -euo pipefail
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: deploy/systemd/verify.sh BINARY (an executable qvt)" >&2
  exit 2
fi
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in "$here"/*.service "$here"/*.timer; do
  sed "s|/usr/local/bin/qvt|$bin|g" "$u" >"$tmp/$(basename "$u")"
done
cd "$tmp"
# verify exits 0 after some complaints (an unknown directive, a bad
# value it ignores): any line it prints about these units fails.
status=0
out=$(systemd-analyze verify --man=no --recursive-errors=no ./*.service ./*.timer 2>&1) || status=$?
problems=$(printf '%s\n' "$out" | grep -E 'qvt[-a-z]*\.(service|timer)' || true)
if [ "$status" -ne 0 ] || [ -n "$problems" ]; then
  printf 'systemd-analyze verify (exit %s):\n%s\n' "$status" "$out" >&2
  exit 1
fi
echo "systemd units ok: $(cd "$here" && ls *.service *.timer | tr '\n' ' ')"
