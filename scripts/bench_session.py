#!/usr/bin/env python3
"""Benchmarks pp's own cost (not a test; run by hand, figures go to the README and notes).

1. Session overhead on a generated workspace of ~20,000 files: a failing target, a scripted
   proposer that fixes it in one attempt. Overhead = pp's wall time minus the time of the
   commands it ran (baseline, reproduction rerun, verification), as pp recorded them.
2. Peak memory while a command prints 1 GiB: the maximum RSS of pp and everything it ran.

Usage: scripts/bench_session.py [--pp target/release/pp] [--files 20000] [--runs 3]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def make_workspace(root, files):
    per_dir = 100
    for i in range(files):
        d = os.path.join(root, "src", f"pkg{i // per_dir:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"mod{i % per_dir:03d}.txt"), "w") as f:
            f.write(f"file {i}\n" * 40)
    with open(os.path.join(root, "flag.txt"), "w") as f:
        f.write("bad\n")
    with open(os.path.join(root, "fix.sh"), "w") as f:
        f.write(
            "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '--- a/flag.txt' '+++ b/flag.txt' "
            "'@@ -1 +1 @@' '-bad' '+good'\n"
        )
    os.chmod(os.path.join(root, "fix.sh"), 0o755)


def command_ms(bundle):
    total = 0
    for dirpath, _, names in os.walk(os.path.join(bundle, "attempts")):
        for n in names:
            if n in ("result.json", "verification.json"):
                with open(os.path.join(dirpath, n)) as f:
                    doc = json.load(f)
                runs = doc.get("runs", [doc])
                total += sum(r.get("duration_ms", 0) for r in runs)
    # Reruns have no result.json: count them from events.jsonl.
    with open(os.path.join(bundle, "events.jsonl")) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event") == "reproduce":
                total += sum(r.get("duration_ms", 0) for r in ev.get("runs", []))
    return total


def session_overhead(pp, files, runs):
    ws = tempfile.mkdtemp(prefix="pp-bench-ws-")
    try:
        t = time.time()
        make_workspace(ws, files)
        print(f"workspace: {files} files generated in {time.time() - t:.1f} s", file=sys.stderr)
        cmd = "grep -qx good flag.txt"
        bare = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(["sh", "-c", cmd], cwd=ws)
            bare.append((time.perf_counter() - t) * 1000)
        results = []
        for _ in range(runs):
            t = time.perf_counter()
            out = subprocess.run(
                [pp, "run", cmd, "--provider", "command:./fix.sh", "--json"],
                cwd=ws, capture_output=True, text=True,
            )
            wall = (time.perf_counter() - t) * 1000
            doc = json.loads(out.stdout)
            assert doc["status"] == "proven", out.stderr
            cmds = command_ms(doc["proof_bundle"])
            results.append((wall, cmds))
            shutil.rmtree(os.path.join(ws, ".pp-artifacts"))
        results.sort()
        wall, cmds = results[len(results) // 2]
        print(json.dumps({
            "benchmark": "session_overhead",
            "files": files,
            "pp_wall_ms": round(wall),
            "commands_ms": cmds,
            "pp_overhead_ms": round(wall - cmds),
            "bare_command_ms": round(sorted(bare)[len(bare) // 2], 1),
        }))
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def peak_memory(pp):
    ws = tempfile.mkdtemp(prefix="pp-bench-mem-")
    try:
        cmd = "head -c 1073741824 /dev/zero | tr '\\0' x; exit 1"
        t = time.perf_counter()
        out = subprocess.run(
            [pp, "run", cmd, "--provider", "stub", "--json"], cwd=ws, capture_output=True, text=True
        )
        wall = (time.perf_counter() - t) * 1000
        doc = json.loads(out.stdout)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({
            "benchmark": "peak_memory_1GiB_output",
            "status": doc["status"],
            "peak_rss_mib": round(peak_kib / 1024, 1),
            "wall_ms": round(wall),
        }))
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pp", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "pp"))
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    pp = os.path.abspath(a.pp)
    if not os.path.exists(pp):
        sys.exit(f"{pp} not found: build it with `cargo build --release`")
    # Memory first: RUSAGE_CHILDREN's maximum covers every child waited for so far.
    peak_memory(pp)
    session_overhead(pp, a.files, a.runs)


if __name__ == "__main__":
    main()
