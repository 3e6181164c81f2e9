#!/usr/bin/env python3
"""Builds the test binaries with cargo, then runs them several at once.

`cargo test` runs its test binaries one after another, and each runs its tests in its own threads.
Ours spend most of their time waiting on Terraform, the emulator and the modelled AWS delays. The
integration tests are one binary (tests/suite.rs) whose modules are the files of tests/; this
runs each module as its own process (the binary with `--exact` and the module's test names), so
each starts its own emulator on a free loopback port and works in its own directories, and runs
`--jobs` of those processes (and the library's and binaries' unit-test binaries) at a time,
longest first, printing each one's whole output when it ends.

    scripts/run_tests.py [--jobs N] [cargo test arguments] [-- test binary arguments]

The build is `cargo test --no-run` with the same arguments (so `RUSTC_WORKSPACE_WRAPPER` and
features apply as they would to `cargo test`); each process then runs from the package root with
cargo's `CARGO_*` variables, as `cargo test` would run it. Exit status: 0 when every process passed,
1 when one failed, the build's when the build failed. Durations are kept in
target/test-durations.json to order the next run.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "target" / "test-durations.json"

# The integration test binary whose modules run as processes of their own (tests/suite.rs).
SUITE = "suite"

# Order on a fresh clone, before any durations were recorded: the test modules that took longest on
# the machine CI uses (seconds, measured 2026-12-06). Any process not named here runs after these.
FIRST_RUN_ESTIMATES = {
    "reliability": 102,
    "aws_behaviour": 64,
    "many_runners": 45,
    "iam": 40,
    "terraform_versions": 31,
    "control_tower": 29,
    "auto_enroll": 28,
    "steps": 25,
    "coordination": 20,
    "cutover": 20,
}


def build(cargo_args):
    """`cargo test --no-run`: returns the test executables as (name, path, target kind). Exits
    when the build fails, or when it warns: the workspace's crates are compiled by clippy-driver
    without `-D warnings` (so that `make build` and this build share them, see the Makefile), and
    any warning, one cargo replays for a crate it did not compile again included, fails the run as
    `-D warnings` would. Dependencies cannot warn (cargo caps their lints)."""
    cmd = ["cargo", "test", "--no-run", "--message-format=json", *cargo_args]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    found, warnings = [], 0
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-message":
            diag = msg.get("message", {})
            sys.stderr.write(diag.get("rendered") or "")
            warnings += diag.get("level") == "warning"
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        kind = target["kind"][0]
        name = target["name"] if kind == "test" else f"{target['name']} ({kind})"
        found.append((name, msg["executable"], kind))
    sys.stderr.flush()
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    if warnings:
        sys.exit(f"the build warned {warnings} time(s) (above): make test allows no warning")
    return found


def runs(binaries, env, test_args):
    """What runs as one process, as (name, executable, arguments): each module of the integration
    test binary tests/suite.rs (listed with the same arguments, so a filter or `--ignored` selects
    as it would; a module none of whose tests is selected does not run), every other test binary
    whole."""
    out = []
    for name, exe, kind in binaries:
        if (kind, name) != ("test", SUITE):
            out.append((name, exe, list(test_args)))
            continue
        listed = subprocess.run(
            [exe, *test_args, "--list", "--format", "terse"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        if listed.returncode != 0:
            sys.exit(f"{exe} --list failed (exit {listed.returncode})")
        modules = {}
        for line in listed.stdout.splitlines():
            if line.endswith(": test"):
                test = line[: -len(": test")]
                modules.setdefault(test.split("::")[0], []).append(test)
        # `--exact` with every test's whole name: a module's name as a filter would also match
        # another module's inner module of that name (`iam::` matches `steps::iam::…`)
        out.extend((module, exe, [*test_args, "--exact", *tests]) for module, tests in modules.items())
    return out


def cargo_env():
    """The variables `cargo test` gives a test binary that it reads at run time."""
    env = dict(os.environ)
    manifest = (ROOT / "Cargo.toml").read_text()
    version = next(
        (l.split("=", 1)[1].strip().strip('"') for l in manifest.splitlines() if l.startswith("version")),
        "",
    )
    env.setdefault("CARGO_MANIFEST_DIR", str(ROOT))
    env.setdefault("CARGO_PKG_NAME", "terraform-provider-aft")
    env.setdefault("CARGO_PKG_VERSION", version)
    return env


def load_durations():
    try:
        return json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}


def main():
    argv = sys.argv[1:]
    test_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, test_args = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "3")))
    opts, cargo_args = ap.parse_known_args(argv)

    env = cargo_env()
    binaries = runs(build(cargo_args), env, test_args)
    known = load_durations()

    def weight(item):
        name = item[0]
        return -(known.get(name, FIRST_RUN_ESTIMATES.get(name, 0)))

    binaries.sort(key=weight)
    lock = threading.Lock()
    results = {}
    running = {}
    started = time.monotonic()

    def run(item):
        name, exe, args = item
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [exe, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        with lock:
            running[name] = proc
        out, _ = proc.communicate()
        took = time.monotonic() - t0
        with lock:
            running.pop(name, None)
            results[name] = (proc.returncode, took)
            rel = os.path.relpath(exe, ROOT)
            status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            print(f"     Running {rel} [{name}]: {status} in {took:.1f} s", flush=True)
            sys.stdout.write(out)
            if not out.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.flush()
        return proc.returncode

    def stop(signum, _frame):
        with lock:
            for proc in running.values():
                proc.send_signal(signum)
        sys.exit(128 + signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    print(f"running {len(binaries)} test processes, {opts.jobs} at a time", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        list(pool.map(run, binaries))

    wall = time.monotonic() - started
    total = sum(t for _, t in results.values())
    failed = sorted(n for n, (rc, _) in results.items() if rc != 0)
    if not test_args:
        # Only whole runs order the next one: a filtered run's times say nothing of the module's.
        DURATIONS.parent.mkdir(parents=True, exist_ok=True)
        # merged: a run of some binaries (`--lib`) keeps the others' times
        known = {**load_durations(), **{n: round(t, 1) for n, (_, t) in results.items()}}
        DURATIONS.write_text(json.dumps(known, indent=1, sort_keys=True))
    print()
    print(f"test processes: {len(results)} run, {len(failed)} failed; {wall:.0f} s wall for {total:.0f} s of processes")
    for name, (rc, took) in sorted(results.items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"  {took:6.1f} s  {name}{'' if rc == 0 else '  FAILED'}")
    if failed:
        print("failed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
