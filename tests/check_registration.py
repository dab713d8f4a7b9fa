#!/usr/bin/env python3
"""Fails when a "pool:" test would not run on warm sandboxes.

Reads `ctest --show-only=json-v1` in the build directory (what ctest will really run) and
checks every re-registration of a Catch2 case under the "pool:" prefix (its ctest name is
"pool:" + the case name it runs): its environment sets TOOLJAIL_TEST_POOL to a positive number,
its skip code is 77, and it carries a label that `ctest -L integration` and `ctest -L pool`
select. Also requires that there are such tests at all. (pool_test.cc's own cases, named
"pool: ...", open their own pooled Host and are not re-registrations.)
Usage: check_registration.py CTEST BUILD_DIR
"""
import json
import subprocess
import sys


def main(ctest, build_dir):
    out = subprocess.run([ctest, "--show-only=json-v1"], cwd=build_dir, check=True,
                         capture_output=True, text=True).stdout
    tests = json.loads(out)["tests"]
    def reregistered(t):
        command = t.get("command", [])
        # catch_discover_tests escapes , [ ] in the name it passes to the test binary.
        case = command[1].replace("\\,", ",").replace("\\[", "[").replace("\\]", "]") if len(command) >= 2 else None
        return case is not None and t["name"] == "pool:" + case
    pool = [t for t in tests if t["name"].startswith("pool:") and reregistered(t)]
    problems = []
    if not pool:
        problems.append("no Catch2 case is registered again as pool:<case>")
    for t in pool:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        env = dict(e.split("=", 1) for e in props.get("ENVIRONMENT", []) if "=" in e)
        labels = props.get("LABELS", [])
        why = []
        try:
            if int(env.get("TOOLJAIL_TEST_POOL", "0")) <= 0:
                why.append("TOOLJAIL_TEST_POOL is not set")
        except ValueError:
            why.append("TOOLJAIL_TEST_POOL is not a number")
        if props.get("SKIP_RETURN_CODE") != 77:
            why.append(f"SKIP_RETURN_CODE is {props.get('SKIP_RETURN_CODE')!r}, not 77")
        if not any("integration" in l for l in labels) or not any("pool" in l for l in labels):
            why.append(f"labels {labels} are not selected by -L integration and -L pool")
        if why:
            problems.append(f"{t['name']}: " + "; ".join(why))
    for p in problems:
        print("check_registration: " + p, file=sys.stderr)
    if not problems:
        print(f"check_registration: {len(pool)} pool: tests, each with the pool on and skip code 77")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
