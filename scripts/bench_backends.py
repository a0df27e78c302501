#!/usr/bin/env python3
"""Per-command overhead of each isolation backend (a benchmark, not a test; run by hand).

A session whose target is `false` (fails at once, prints nothing) with `reproduce_runs: N`
runs the command N+1 times (baseline plus N reproduction reruns) and then stops (stub
proposer, one attempt). For each backend this reports:

  per_cmd_ms   mean wall time of one command as pp's runner measured it (spawn to reap,
               wrapper or container client included), from the bundle's events.jsonl;
  marginal_ms  (session wall time with N reruns - with 0 reruns) / N: what one more command
               costs a session, pp's own bookkeeping (logs, redaction, events) included;
  overhead_ms  per_cmd_ms minus the same for running `sh -c false` directly from this script;
  cpu_ms       (CPU time, user + system, of the session with N reruns - with 0) / N, counted
               over pp and every process it started and reaped: what one more command costs in
               CPU. Unlike wall times it barely moves when other work shares the machine.

Backends: `copy` and `overlay`, each with `network: allow` and `network: deny` (since
confinement, every command runs under bubblewrap and pp's inner stage; before it, `allow` ran
the command bare and `deny` through the network-namespace wrapper), `container` with deny (`docker run --network none`) and
with allow (default bridge). The container rows need an engine and the image
`pp-test-busybox:latest` (scripts/ci-docker.sh provides both); they are skipped otherwise.

Usage: scripts/bench_backends.py [--pp target/release/pp] [--n 20] [--image IMAGE]
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = [
    ("copy, network allow", "copy", "allow"),
    ("copy, network deny", "copy", "deny"),
    ("overlay, network allow", "overlay", "allow"),
    ("overlay, network deny", "overlay", "deny"),
    ("container, network deny (--network none)", "container", "deny"),
    ("container, network allow (bridge)", "container", "allow"),
]


def make_repo(root):
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("a\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)


def write_policy(root, backend, network, reruns, image):
    with open(os.path.join(root, "pp.yaml"), "w") as f:
        f.write(
            "policy:\n"
            f"  network: {network}\n"
            f"  reproduce_runs: {reruns}\n"
            "  limits: {max_attempts: 1}\n"
            f"  sandbox: {{backend: {backend}, container_image: \"{image}\"}}\n"
        )


def session(pp, root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PP_")}
    env["RUST_LOG"] = "pp=warn"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([pp, "run", "false", "--provider", "stub", "--json"], cwd=root,
                         env=env, capture_output=True, text=True)
    wall = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
    doc = json.loads(out.stdout)
    if doc.get("status") != "not_proven":
        raise RuntimeError(f"unexpected status {doc.get('status')}: {doc.get('message')}\n"
                           f"{out.stderr}")
    durations = []
    with open(os.path.join(doc["proof_bundle"], "events.jsonl")) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event") in ("baseline", "reproduce"):
                durations += [r["duration_ms"] for r in ev["runs"]]
    shutil.rmtree(os.path.join(root, ".pp-artifacts"), ignore_errors=True)
    return wall, durations, cpu


def direct_ms(n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["sh", "-c", "false"])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.mean(times)


def engine_ready(image):
    try:
        ok = subprocess.run(["docker", "info"], capture_output=True).returncode == 0
        return ok and subprocess.run(["docker", "image", "inspect", image],
                                     capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pp", default="target/release/pp")
    ap.add_argument("--n", type=int, default=20, help="reruns per session")
    ap.add_argument("--image", default="pp-test-busybox:latest")
    a = ap.parse_args()
    pp = os.path.abspath(a.pp)
    bare = direct_ms(a.n)
    print(f"direct `sh -c false` from python: {bare:.1f} ms per command (n={a.n})")
    print(f"{'backend':44} {'per_cmd_ms':>10} {'overhead_ms':>11} {'marginal_ms':>11}"
          f" {'cpu_ms':>7}")
    have_engine = engine_ready(a.image)
    for label, backend, network in BACKENDS:
        if backend == "container" and not have_engine:
            print(f"{label:44} skipped: no engine answering or no image {a.image}")
            continue
        root = tempfile.mkdtemp(prefix="pp-bench-backend-")
        try:
            make_repo(root)
            write_policy(root, backend, network, 0, a.image)
            session(pp, root)  # warm caches (page cache, image layers)
            wall0, _, cpu0 = session(pp, root)
            write_policy(root, backend, network, a.n, a.image)
            wall_n, durations, cpu_n = session(pp, root)
        except RuntimeError as e:
            print(f"{label:44} failed: {e}")
            continue
        finally:
            shutil.rmtree(root, ignore_errors=True)
        per_cmd = statistics.mean(durations)
        marginal = (wall_n - wall0) / a.n
        cpu = (cpu_n - cpu0) / a.n
        print(f"{label:44} {per_cmd:10.1f} {per_cmd - bare:11.1f} {marginal:11.1f} {cpu:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
