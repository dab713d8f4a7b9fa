#!/usr/bin/env bash
# The manual page (ctest "install: man page"): groff renders docs/tooljail.1 without a warning,
# every subcommand `tooljail --help` lists has its section, and every option of the commands the
# page details (run, check, mcp-config, token) is in it.
#   tests/install/man_test.sh TOOLJAIL_BINARY MAN_PAGE
set -euo pipefail
bin="$1"
page="$2"
fail() { echo "man test: $*" >&2; exit 1; }
command -v groff >/dev/null || { echo "man test: groff not installed (skipped)"; exit 77; }

warnings="$(groff -man -ww -z "$page" 2>&1)"
[[ -z "$warnings" ]] || fail "groff warns: $warnings"
text="$(groff -man -Tascii -P-cbou -rLL=250n -rHY=0 "$page" 2>/dev/null)"

# Subcommands: CLI11 lists them under "Subcommands:" as "  name   description".
commands="$("$bin" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }')"
[[ -n "$commands" ]] || fail "no subcommands in tooljail --help"
for c in $commands; do
  grep -q "^   tooljail $c" <<<"$text" || fail "no section for 'tooljail $c'"
done
for c in run check mcp-config; do
  grep -qx "$c" <<<"$commands" || continue
  for opt in $("$bin" "$c" --help | grep -oE '^  +(-[a-zA-Z], ?)?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+'); do
    [[ "$opt" == "--help" ]] && continue
    grep -qF -- "$opt" <<<"$text" || fail "'tooljail $c $opt' is not in the man page"
  done
done
echo "man test: ok ($(wc -w <<<"$commands") commands)"
