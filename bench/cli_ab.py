#!/usr/bin/env python3
"""Whole-process A/B: bare /bin/true, bwrap, and `tooljail run` as separate processes.

scripts/bench-cli.sh runs this (docs/BENCHMARKS.md, "The CLI as a whole process"). Each round
runs the three commands once, in a fresh random order, each after --gap-ms of idle; a sample is
one process from posix_spawn to wait4, wall (perf_counter) and CPU (the user + system time
wait4 reports: the process and every descendant it reaped, so the sandboxed program is counted
for bwrap and tooljail alike; kernel threads, e.g. a network namespace's asynchronous cleanup,
are counted for neither. The total is the scheduler's exact runtime; its split into user and
system time is sampled at timer ticks, so the JSON has it but the table does not). The table shows medians and p95 over the rounds, and the ratios as the
median of the per-round ratios (pair by pair, so load that drifts during the run lands on both
sides of a ratio). Two more rows: `startup` (`tooljail --version`: loading the binary and its
shared libraries, their static initialisers, exit) and, with --baseline, `baseline` (another
tooljail binary's `run`, e.g. the previous commit's, so a change's effect is a pair-by-pair
ratio too). Any command that exits non-zero stops the run with exit status 1 and its
stderr; nothing here asserts a timing.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

BWRAP = "/usr/bin/bwrap"


def bwrap_argv(workspace):
    # The same flags as bench/launch_bench.cc's bwrap row: namespaces and mounts, no seccomp,
    # no cgroups, no rlimits.
    return [BWRAP, "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--ro-bind", workspace, "/workspace", "--chdir", "/workspace",
            "/bin/true"]


def run_once(argv, env, err_path):
    """One process: (wall seconds, cpu seconds, user seconds, sys seconds, exit status)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_utime, ru.ru_stime, os.waitstatus_to_exitcode(status)


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tooljail", required=True, help="the tooljail binary")
    ap.add_argument("--policy-dir", required=True, help="TOOLJAIL_POLICY_DIR for tooljail run")
    ap.add_argument("--records", help="TOOLJAIL_RECORDS (default: a new directory in /var/tmp)")
    ap.add_argument("--runs", type=int, default=40, help="measured rounds")
    ap.add_argument("--warmup", type=int, default=5, help="rounds run first and not counted")
    ap.add_argument("--gap-ms", type=float, default=50, help="idle before each command")
    ap.add_argument("--json", help="write every sample and the summary here")
    ap.add_argument("--baseline", help="a second tooljail binary, measured as the row 'baseline'")
    args = ap.parse_args()

    scratch = tempfile.mkdtemp(prefix="tooljail-bench-cli-")
    workspace = os.path.join(scratch, "workspace")
    os.mkdir(workspace)
    os.chmod(scratch, 0o755)
    os.chmod(workspace, 0o755)
    own_records = not args.records
    records = args.records or tempfile.mkdtemp(prefix="tooljail-bench-cli-records-", dir="/var/tmp")
    try:
        return measure(args, scratch, workspace, records)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if own_records:
            shutil.rmtree(records, ignore_errors=True)


def measure(args, scratch, workspace, records):
    err_path = os.path.join(scratch, "stderr")

    env = dict(os.environ)
    env["TOOLJAIL_POLICY_DIR"] = args.policy_dir
    env["TOOLJAIL_RECORDS"] = records
    commands = {
        "bare": ["/bin/true"],
        "bwrap": bwrap_argv(workspace),
        "tooljail": [os.path.abspath(args.tooljail), "run", "--workspace", workspace,
                     "--", "/bin/true"],
        "startup": [os.path.abspath(args.tooljail), "--version"],
    }
    if args.baseline:
        commands["baseline"] = [os.path.abspath(args.baseline)] + commands["tooljail"][1:]
    names = list(commands)
    samples = {n: [] for n in names}
    rounds = []  # per measured round: {name: (wall, cpu)}
    rng = random.Random(0x7007)
    for r in range(args.warmup + args.runs):
        order = names[:]
        rng.shuffle(order)
        this_round = {}
        for name in order:
            time.sleep(args.gap_ms / 1000.0)
            wall, cpu, user, sys_, code = run_once(commands[name], env, err_path)
            if code != 0:
                with open(err_path, errors="replace") as f:
                    err = f.read()
                print(f"bench-cli: {name} exited {code}: {' '.join(commands[name])}\n{err}",
                      file=sys.stderr)
                return 1
            if r >= args.warmup:
                samples[name].append({"wall": wall, "cpu": cpu, "user": user, "sys": sys_})
                this_round[name] = (wall, cpu)
        if r >= args.warmup:
            rounds.append(this_round)

    ms = lambda s: s * 1000.0
    summary = {}
    for n in names:
        walls = [s["wall"] for s in samples[n]]
        cpus = [s["cpu"] for s in samples[n]]
        summary[n] = {
            "wall_p50_ms": ms(statistics.median(walls)),
            "wall_p95_ms": ms(pct(walls, 95)),
            "cpu_p50_ms": ms(statistics.median(cpus)),
            "user_p50_ms": ms(statistics.median([s["user"] for s in samples[n]])),
            "sys_p50_ms": ms(statistics.median([s["sys"] for s in samples[n]])),
        }

    def ratio(a, b, i):
        vals = [rd[a][i] / rd[b][i] for rd in rounds if rd[b][i] > 0]
        return statistics.median(vals) if vals else float("nan")

    ratios = {}
    pairs = [("tooljail", "bwrap"), ("tooljail", "bare"), ("bwrap", "bare"), ("startup", "bwrap")]
    if args.baseline:
        pairs += [("baseline", "bwrap"), ("tooljail", "baseline")]
    for a, b in pairs:
        ratios[f"{a}/{b}"] = {"wall": ratio(a, b, 0), "cpu": ratio(a, b, 1)}

    print(f"bench-cli: {args.runs} rounds (+{args.warmup} warm-up), random order per round, "
          f"{args.gap_ms:g} ms idle before each command")
    print(f"{'command':<10} {'wall p50':>9} {'wall p95':>9} {'CPU p50':>8}  (ms)")
    for n in names:
        s = summary[n]
        print(f"{n:<10} {s['wall_p50_ms']:9.2f} {s['wall_p95_ms']:9.2f} {s['cpu_p50_ms']:8.2f}")
    print("ratios (median of per-round ratios):")
    for k, v in ratios.items():
        print(f"  {k:<19} wall {v['wall']:6.2f}   CPU {v['cpu']:6.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "warmup": args.warmup, "gap_ms": args.gap_ms,
                       "commands": commands, "samples": samples, "summary": summary,
                       "ratios": ratios}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
