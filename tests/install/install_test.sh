#!/usr/bin/env bash
# `cmake --install` of this build tree, staged with DESTDIR (ctest "install: layout and lookup"):
# the files land where docs/INSTALL.md says for the configured prefix, the binary is stripped,
# the unit and the AppArmor profile name the installed binary, and the installed binary reads
# the installed policies and tools, never the checkout it was built from.
#   tests/install/install_test.sh BUILD_DIR SOURCE_DIR
# Exit 77 (skipped) when not root: the last part mounts the staged tree over the prefix in a
# private mount namespace.
set -euo pipefail
build="$1"
source="$2"
fail() { echo "install test: $*" >&2; exit 1; }

stage="$(mktemp -d /tmp/tooljail-install-XXXXXX)"
trap 'rm -rf "$stage"' EXIT
prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")"
unit_dir="$(sed -n 's/^TOOLJAIL_SYSTEMD_UNIT_DIR:STRING=//p' "$build/CMakeCache.txt")"
[[ "$unit_dir" == /* ]] || unit_dir="$prefix/$unit_dir"
DESTDIR="$stage" cmake --install "$build" --strip >/dev/null
root="$stage$prefix"

for f in bin/tooljail share/tooljail/policies/default.json share/tooljail/policies/strict.json \
         share/tooljail/policies/ci.json share/tooljail/tools.d/read_file.json \
         share/tooljail/tools.d/run_command.json share/tooljail/apparmor/tooljail \
         share/man/man1/tooljail.1; do
  [[ -f "$root/$f" ]] || fail "missing $prefix/$f"
done
[[ -f "$stage$unit_dir/tooljail.service" ]] || fail "missing $unit_dir/tooljail.service"
# Nothing is installed into the local configuration directory: it belongs to the admin.
[[ ! -e "$stage/etc/tooljail" ]] || fail "the install wrote into /etc/tooljail"
# Only the shipped *.json files, nothing else of the checkout.
extra="$(find "$root/share/tooljail/policies" "$root/share/tooljail/tools.d" -type f ! -name '*.json')"
[[ -z "$extra" ]] || fail "non-JSON files installed: $extra"

# --strip: no symbol table, no debug info.
sections="$(readelf -S -W "$root/bin/tooljail")"
! grep -qE '\.symtab|\.debug_info' <<<"$sections" || fail "the installed binary is not stripped"

# The unit and the profile name the installed binary; the unit the configured local directory.
grep -q "^ExecStart=$prefix/bin/tooljail " "$stage$unit_dir/tooljail.service" ||
  fail "the unit does not start $prefix/bin/tooljail"
grep -q "^ConditionPathExists=/etc/tooljail/tokens.json$" "$stage$unit_dir/tooljail.service" ||
  fail "the unit's token file is not /etc/tooljail/tokens.json"
grep -q "^profile tooljail $prefix/bin/tooljail " "$root/share/tooljail/apparmor/tooljail" ||
  fail "the AppArmor profile does not attach to $prefix/bin/tooljail"
if command -v systemd-analyze >/dev/null; then
  # Only the unit's own syntax: its binary and user need not exist on this host.
  out="$(systemd-analyze verify "$stage$unit_dir/tooljail.service" 2>&1 || true)"
  bad="$(grep -vE 'is not executable|No such file|does not exist|Failed to|Unit .* not found|tooljail\.service: Command' <<<"$out" || true)"
  [[ -z "$bad" ]] || fail "systemd-analyze verify: $bad"
fi

# The staged binary is outside the build tree: it must look at the install paths only, even
# though the checkout it was built from is right there.
records="$stage/records"
out="$("$root/bin/tooljail" run --records "$records" --policy no_such_policy -- /bin/true 2>&1)" &&
  fail "an unknown policy ran"
grep -qF "policies in /etc/tooljail/policies:$prefix/share/tooljail/policies" <<<"$out" ||
  fail "the installed binary does not search the install paths: $out"
! grep -qF "$source" <<<"$out" || fail "the installed binary looked at the source tree: $out"

if [[ $(id -u) -ne 0 ]]; then
  echo "install test: layout checked; not root, so the installed binary was not run (skipped)"
  exit 77
fi
# The staged tree at the prefix, in a private mount namespace: the installed binary runs a
# sandbox with the installed policy, and sees a policy only the install has.
[[ -d "$prefix" ]] || { echo "install test: $prefix does not exist to mount over (skipped)"; exit 77; }
rm "$root/share/tooljail/policies/ci.json"
out="$(unshare --mount --propagation private -- sh -c '
  mount --bind "$1" "$2" || exit 90
  "$2/bin/tooljail" run --records "$3" --no-workspace -- /bin/echo hi || exit 91
  "$2/bin/tooljail" run --records "$3" --no-workspace --policy ci -- /bin/true 2>&1 && exit 92
  exit 0' sh "$root" "$prefix" "$records" 2>&1)" || fail "running the installed binary: status $?: $out"
grep -qx "hi" <<<"$out" || fail "tooljail run did not print hi: $out"
# The names listed are exactly the installed files left (ci.json was removed).
left="$(cd "$root/share/tooljail/policies" && LC_ALL=C ls -- *.json | sed 's/\.json$//' | paste -sd, - | sed 's/,/, /g')"
grep -qF "unknown policy 'ci' (policies in /etc/tooljail/policies:$prefix/share/tooljail/policies: $left)" <<<"$out" ||
  fail "the installed binary read policies from elsewhere than the install: $out"
echo "install test: ok ($prefix)"
