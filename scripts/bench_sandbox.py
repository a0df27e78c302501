#!/usr/bin/env python3
"""Benchmarks pp's sandbox backends (not a test; run by hand, figures go to the README/notes).

For each generated workspace -- small (~200 files / 2 MB), large (~20,000 files / 400 MB), and a
Rust crate with a warm target/ -- and each backend (`overlay`, `copy`), it reports (the data
workspaces' test reads and hashes every file; `large-light` is the large tree with a test that
reads one file and waits 0.8 s):

- sandbox creation and teardown, as pp recorded them in repro.json (`timings.sandbox_setup_ms`,
  `timings.sandbox_teardown_ms`);
- manifest hashing of the workspace (`timings.manifest_ms`);
- pp's whole-session overhead for a one-attempt proof (scripted proposer, reproduce_runs 0,
  confirm_runs 0, minimize off, so the target runs exactly twice: baseline and verification):
  pp's wall time minus running the bare command twice;
- for the Rust crate, `cargo test` inside the sandbox (the baseline run, before any patch)
  against `cargo test` in place; warm, so no rebuild is expected;
- for `overlay`, how that overhead splits: the same two commands in a bare overlay mounted with
  `unshare` (no pp) show what overlayfs itself costs the commands; the rest is pp's.

Each figure stands beside the reference MVP's method, measured in the same run: a full
`cp -a` of the workspace per session (plus `rm -rf` at the end), and sequential `sha256sum`
for hashing; the ratio is pp / reference (below 1 = pp is faster).

Usage: scripts/bench_sandbox.py [--pp target/release/pp] [--runs 3]
                                [--only small,large,large-light,crate]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

FIX = "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '--- a/{path}' '+++ b/{path}' '@@ -1 +1 @@' '-{old}' '+{new}'\n"

# A test that touches the whole workspace, as a test suite importing or reading it would.
CHECK_PY = """import hashlib, os, sys
h = hashlib.md5()
n = 0
for d, _, names in os.walk("data"):
    for name in names:
        with open(os.path.join(d, name), "rb") as f:
            h.update(f.read())
        n += 1
flag = open("flag.txt").read().strip()
print(f"read {n} files; flag={flag}")
sys.exit(0 if flag == "good" else 1)
"""

POLICY = """policy:
  reproduce_runs: 0
  confirm_runs: 0
  minimize: false
  limits: {{per_command_timeout_sec: 900}}
  sandbox: {{backend: {backend}}}
"""


def sh(cmd, cwd, **kw):
    out = subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), capture_output=True, **kw)
    if out.returncode != 0:
        sys.exit(f"{cmd} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out


def git_commit(ws):
    sh(["git", "init", "-q"], ws)
    # No background `git gc --auto`: it would repack .git while the reference copies it.
    sh(["git", "config", "gc.auto", "0"], ws)
    sh(["git", "config", "maintenance.auto", "false"], ws)
    sh(["git", "-c", "core.compression=0", "add", "-A"], ws)
    sh(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"], ws)


def make_data_workspace(root, files, total_bytes):
    per_dir = 100
    size = max(1, total_bytes // files)
    blob = os.urandom(size)
    for i in range(files - 2):
        d = os.path.join(root, "data", f"d{i // per_dir:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i % per_dir:03d}.bin"), "wb") as f:
            # Distinct content per file, so nothing dedups.
            f.write(i.to_bytes(8, "little") + blob[8:])
    with open(os.path.join(root, "flag.txt"), "w") as f:
        f.write("bad\n")
    with open(os.path.join(root, "check.py"), "w") as f:
        f.write(CHECK_PY)
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write(".pp-artifacts/\n")
    git_commit(root)
    return "python3 check.py", ("flag.txt", "bad", "good")


# The large tree with a test that reads one file and otherwise waits, as a test of a service
# would: pp's own cost on a big workspace, without the command's file accesses through the overlay.
LIGHT_CMD = "sleep 0.8; grep -qx good flag.txt"

CRATE_REWARM = ["cargo", "test", "--offline", "--no-run", "-q"]


def make_crate(root, modules=60, fns=40):
    os.makedirs(os.path.join(root, "src"))
    with open(os.path.join(root, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "benchcrate"\nversion = "0.1.0"\nedition = "2021"\n')
    lib = []
    for m in range(modules):
        body = []
        for k in range(fns):
            body.append(
                f"pub fn f{k}(x: u64) -> u64 {{ let mut v = x; for i in 0..{k + 3} {{ v = v.wrapping_mul(31).wrapping_add(i); }} v }}\n"
            )
        body.append(
            "#[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {\n        let mut v = 0u64;\n"
            "        for i in 0..3_000_000u64 { v = std::hint::black_box(super::f1(v ^ i)); }\n"
            "        assert_ne!(v, 1);\n    }\n}\n"
        )
        with open(os.path.join(root, "src", f"m{m}.rs"), "w") as f:
            f.write("".join(body))
        lib.append(f"pub mod m{m};\n")
    lib.append("pub mod flag;\n#[cfg(test)]\nmod t {\n    #[test]\n    fn flag_is_good() { assert_eq!(super::flag::flag(), \"good\"); }\n}\n")
    with open(os.path.join(root, "src", "lib.rs"), "w") as f:
        f.write("".join(lib))
    with open(os.path.join(root, "src", "flag.rs"), "w") as f:
        f.write('pub const FLAG: &str = "bad";\npub fn flag() -> &\'static str {\n    FLAG\n}\n')
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write("/target\n.pp-artifacts/\n")
    git_commit(root)
    # Warm target/: build the tests once in place.
    sh(CRATE_REWARM, root)
    old = 'pub const FLAG: &str = "bad";'
    return "cargo test --offline -q", ("src/flag.rs", old, old.replace('"bad"', '"good"'))


def tree_stats(ws):
    n, b = 0, 0
    for d, dirs, names in os.walk(ws):
        if ".git" in dirs:
            dirs.remove(".git")
        for name in names:
            n += 1
            b += os.lstat(os.path.join(d, name)).st_size
    return n, b


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def reference(ws, runs, cmd, fix, rewarm):
    """The MVP's way: cp -a per session, rm -rf after; sequential sha256sum. And the bare
    commands: the target on the original tree (warm), then on the fixed tree, in place."""
    cp, rm, hashing = [], [], []
    for _ in range(runs):
        dst = tempfile.mkdtemp(prefix="pp-bench-ref-")
        target = os.path.join(dst, "ws")
        cp.append(timed(lambda: sh(["cp", "-a", ws, target], "/")))
        rm.append(timed(lambda: shutil.rmtree(dst)))
        hashing.append(timed(lambda: sh(
            "find . -path ./.git -prune -o -path ./.pp-artifacts -prune -o -type f -print0 | xargs -0 sha256sum > /dev/null",
            ws)))
    path, old, new = fix
    first, second = [], []
    for _ in range(runs):
        first.append(timed(lambda: subprocess.run(cmd, cwd=ws, shell=True, capture_output=True)))
        with open(os.path.join(ws, path)) as f:
            text = f.read()
        with open(os.path.join(ws, path), "w") as f:
            f.write(text.replace(old, new, 1))
        second.append(timed(lambda: subprocess.run(cmd, cwd=ws, shell=True, capture_output=True)))
        sh(["git", "checkout", "-q", "--", path], ws)
        if rewarm:
            sh(rewarm, ws)
    return {"copy_ms": median(cp), "teardown_ms": median(rm), "hash_ms": median(hashing),
            "bare_first_ms": median(first), "bare_second_ms": median(second)}


FLOOR_PY = """import os, subprocess, sys, time
cmd, path, old, new = sys.argv[1:5]
def run():
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, capture_output=True)
    return (time.perf_counter() - t) * 1000
first = run()
with open(path) as f:
    text = f.read()
with open(path, "w") as f:
    f.write(text.replace(old, new, 1))
print(first, run())
"""


def overlay_floor(ws, cmd, fix):
    """The two commands in a bare overlay of the workspace (mounted with `unshare`, no pp): what
    any overlay sandbox costs the commands themselves, before pp does anything. None when this
    machine cannot mount one."""
    path, old, new = fix
    scratch = tempfile.mkdtemp(prefix="pp-bench-floor-")
    try:
        up, wk = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
        os.makedirs(up)
        os.makedirs(wk)
        root = os.geteuid() == 0
        opts = f"lowerdir={ws},upperdir={up},workdir={wk}" + ("" if root else ",userxattr")
        script = (
            f"mount -t overlay overlay -o {opts} {ws} && cd {ws} && "
            f"exec python3 -c \"$1\" \"$2\" \"$3\" \"$4\" \"$5\""
        )
        out = subprocess.run(
            ["unshare", "-m" if root else "-rm", "sh", "-c", script, "sh", FLOOR_PY, cmd, path, old, new],
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            print(f"overlay floor not measured: {out.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        first, second = (float(x) for x in out.stdout.split())
        return first, second
    finally:
        subprocess.run(["rm", "-rf", scratch])


def pp_session(pp, ws, backend, cmd, fix_script):
    with open(os.path.join(ws, "pp.yaml"), "w") as f:
        f.write(POLICY.format(backend=backend))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PP_")}
    t = time.perf_counter()
    out = subprocess.run(
        [pp, "run", cmd, "--provider", f"command:{fix_script}", "--json"],
        cwd=ws, capture_output=True, text=True, env=env,
    )
    wall = (time.perf_counter() - t) * 1000
    doc = json.loads(out.stdout)
    if doc["status"] != "proven":
        sys.exit(f"{backend}: session ended {doc['status']}: {out.stderr[-3000:]}")
    bundle = doc["proof_bundle"]
    with open(os.path.join(bundle, "repro.json")) as f:
        repro = json.load(f)
    with open(os.path.join(bundle, "attempts/0_baseline/default/result.json")) as f:
        baseline_ms = json.load(f)["duration_ms"]
    with open(os.path.join(bundle, "attempts/1/verification.json")) as f:
        verify_ms = sum(r["duration_ms"] for r in json.load(f)["runs"])
    # Only the session's own folder goes: `.pp-artifacts/manifest-cache.json` stays, as it does
    # for a user running pp again (the first session of each backend is the cold one).
    shutil.rmtree(os.path.dirname(bundle))
    os.remove(os.path.join(ws, "pp.yaml"))
    tm = repro["timings"]
    return {
        "wall_ms": wall,
        "setup_ms": tm["sandbox_setup_ms"],
        "teardown_ms": tm["sandbox_teardown_ms"],
        "manifest_ms": tm["manifest_ms"],
        "baseline_cmd_ms": baseline_ms,
        "commands_ms": baseline_ms + verify_ms,
        "backend": repro["sandbox"]["backend"],
    }


def bench(pp, name, ws, cmd, fix, runs, scratch, rewarm=None):
    path, old, new = fix
    fix_script = os.path.join(scratch, f"fix-{name}.sh")
    with open(fix_script, "w") as f:
        f.write(FIX.format(path=path, old=old, new=new))
    os.chmod(fix_script, 0o755)
    files, size = tree_stats(ws)
    # Interleaved, so that load from elsewhere on the machine spreads over every method.
    refs, sessions, floors = [], {"overlay": [], "copy": []}, []
    for _ in range(runs):
        refs.append(reference(ws, 1, cmd, fix, rewarm))
        floor = overlay_floor(ws, cmd, fix)
        if floor:
            floors.append(sum(floor))
        for backend in sessions:
            sessions[backend].append(pp_session(pp, ws, backend, cmd, fix_script))
    ref = {k: median([r[k] for r in refs]) for k in refs[0]}
    bare_twice = ref["bare_first_ms"] + ref["bare_second_ms"]
    floor_ms = median(floors) if floors else None
    rows = []
    for backend, res in sessions.items():
        m = {k: median([r[k] for r in res]) for k in res[0] if k != "backend"}
        overhead = m["wall_ms"] - bare_twice
        ref_overhead = ref["copy_ms"] + ref["teardown_ms"]
        row = {
            "workspace": name,
            "files": files,
            "mb": round(size / 1e6, 1),
            "backend": res[0]["backend"],
            "sandbox_setup_ms": round(m["setup_ms"], 1),
            "sandbox_teardown_ms": round(m["teardown_ms"], 1),
            "ref_cp_a_ms": round(ref["copy_ms"], 1),
            "ref_rm_rf_ms": round(ref["teardown_ms"], 1),
            "setup_plus_teardown_vs_ref": round((m["setup_ms"] + m["teardown_ms"]) / ref_overhead, 4),
            "manifest_ms": round(m["manifest_ms"], 1),
            "ref_sha256sum_ms": round(ref["hash_ms"], 1),
            "manifest_vs_ref": round(m["manifest_ms"] / ref["hash_ms"], 3),
            "session_wall_ms": round(m["wall_ms"]),
            "bare_cmd_x2_ms": round(bare_twice),
            "commands_in_sandbox_ms": round(m["commands_ms"]),
            "session_overhead_ms": round(overhead),
            "session_overhead_pct_of_commands": round(100 * overhead / bare_twice, 1),
            "ref_session_overhead_ms": round(ref_overhead),
            "session_overhead_vs_ref": round(overhead / ref_overhead, 3),
        }
        if backend == "overlay" and floor_ms is not None:
            # Of the overhead: what the kernel's overlay costs the commands themselves (bare
            # overlay, no pp), and what is left for pp (its own work, and the commands running
            # beside its background hashing).
            row["bare_overlay_cmd_x2_ms"] = round(floor_ms)
            row["overlayfs_in_commands_pct"] = round(100 * (floor_ms - bare_twice) / bare_twice, 1)
            row["pp_beyond_bare_overlay_ms"] = round(m["wall_ms"] - floor_ms)
            row["pp_beyond_bare_overlay_pct"] = round(100 * (m["wall_ms"] - floor_ms) / bare_twice, 1)
        if name == "crate":
            row["cargo_test_in_sandbox_ms"] = round(m["baseline_cmd_ms"])
            row["cargo_test_in_place_ms"] = round(ref["bare_first_ms"])
            row["cargo_test_sandbox_vs_in_place"] = round(m["baseline_cmd_ms"] / ref["bare_first_ms"], 2)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pp", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "pp"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="small,large,large-light,crate")
    a = ap.parse_args()
    pp = os.path.abspath(a.pp)
    if not os.path.exists(pp):
        sys.exit(f"{pp} not found: build it with `cargo build --release`")
    which = a.only.split(",")
    scratch = tempfile.mkdtemp(prefix="pp-bench-")
    try:
        made = {}
        for name in which:
            tree = "large" if name == "large-light" else name
            if tree not in made:
                ws = os.path.join(scratch, tree)
                os.makedirs(ws)
                t = time.time()
                if tree == "small":
                    made[tree] = ws, *make_data_workspace(ws, 200, 2_000_000)
                elif tree == "large":
                    made[tree] = ws, *make_data_workspace(ws, 20_000, 400_000_000)
                elif tree == "crate":
                    made[tree] = ws, *make_crate(ws)
                else:
                    sys.exit(f"unknown workspace {name}")
                print(f"{tree}: generated in {time.time() - t:.1f} s", file=sys.stderr)
            ws, cmd, fix = made[tree]
            if name == "large-light":
                cmd = LIGHT_CMD
            bench(pp, name, ws, cmd, fix, a.runs, scratch, CRATE_REWARM if name == "crate" else None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
