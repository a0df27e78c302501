#!/usr/bin/env python3
"""Benchmarks time to proof on real test suites (issue 17's "Measure"; not a test: run by hand,
figures go to the README).

Method. The setup step (the only one that uses the network: PyPI and crates.io) builds two
workspaces under --work from the registries' sources, each a git repository with two commits
(upstream, then one injected one-line bug in library code):

  python  more-itertools 10.5.0 (sdist, which ships its tests: 664 tests in 2 files, 2,995
          results with unittest subTests), command
          `python3 -m pytest -q -p no:cacheprovider -p no:subtests`. `-p no:subtests` because
          pytest 9's built-in subtests plugin ends the summary line with "N subtests passed",
          which pp's pytest summary parser does not read (no test counts: a session can never
          prove); without the plugin the line is the classic one. Bug: `first()` returns None
          instead of its `default` (more_itertools/more.py), failing 1 test
          (FirstTests::test_default).
  rust    semver 1.0.23 (.crate from static.crates.io: 4 test binaries under tests/ plus the
          lib's unit tests and doc-tests, no dependency needed to build or test), command
          `cargo test --offline -q`. Bug: `matches_tilde` compares `ver.patch < patch` instead
          of `>` (src/eval.rs), failing 1 test (test_version_req's test_tilde). The build is
          warmed in the workspace (target/ is git-ignored; pp's overlay sandbox sees it).

For each workspace there is the true fix (the reverse of the bug) and a wrong candidate, a
different edit that keeps the failing test failing (python: `if default is None:` for
`if default is _marker:`; rust: `<=` for `<`). The proposer is a scripted `command` proposer
(the pattern of TestEnv::proposer in tests/it/support/mod.rs): a shell script that prints its
next reply, `{"diff": "..."}`, from files. Every session runs with a `pp.yaml` in the workspace
(git-ignored) setting `policy.failing_first` and `minimize: false`, so that minimization (which
would verify subsets of the winning diff) does not blur the figures; network stays `deny`, the
sandbox `auto` (overlay).

Measured, --runs times each (medians), interleaved run by run so machine load hits all alike:
  bare        one run of the suite command in the workspace at the buggy commit, warm, no pp
              (the denominator); the same on the fixed tree is reported beside it (for cargo a
              failing run stops before the doc-tests, so the fixed tree's run is longer);
  one_on/off  `pp run CMD --provider command:... --json`, reply = the true fix, failing_first
              true (today's default) / false (the behaviour before issue 17: full reproduction
              rerun, full verification); the script's wall time for the pp process / bare;
  wrong_on/off a session whose first reply is the wrong diff and second the fix; the time to
              reject the wrong candidate is read from the bundle's events.jsonl: `elapsed_ms`
              of attempt 2's `propose` minus attempt 1's `apply` (it covers running the
              candidate, the verdict and the undo); / bare.
  cand_seq / cand_par  the issue's third figure: three wrong candidates and the fix. cand_seq:
              `candidates: 1`, `max_attempts: 4`, the proposer replies one wrong diff per attempt,
              then the fix (proven in attempt 4); cand_par: `candidates: 4`, the proposer
              replies the four as one JSON list (the three wrong ones first), verified at most
              `policy.parallelism` (default: the cores) at once (proven in attempt 1). Reported:
              the session's wall time par / seq, and the candidates' part alone (from attempt
              1's `propose` event to the `winner` event) par / seq. The three wrong diffs (WRONGS
              below) each keep the failing test failing.
A session with a run that printed no test report keeps its bundle under WORK/kept/ (bundles
are otherwise deleted after their figures are read).

Usage: scripts/bench_time_to_proof.py [--pp target/release/pp] [--runs 3] [--work DIR]
                                      [--only python,rust] [--json results.json]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request

PY_PKG, PY_VER = "more-itertools", "10.5.0"
RS_CRATE, RS_VER = "semver", "1.0.23"
PY_CMD = "python3 -m pytest -q -p no:cacheprovider -p no:subtests"
RS_CMD = "cargo test --offline -q"

# (file, original text, buggy text, wrong candidate text): each an exact, unique snippet.
PY_BUG = (
    "more_itertools/more.py",
    "            'default value was provided.'\n        )\n    return default\n",
    "            'default value was provided.'\n        )\n    return None\n",
)
PY_WRONG = (
    "more_itertools/more.py",
    "        return item\n    if default is _marker:\n        raise ValueError(\n"
    "            'first() was called on an empty iterable",
    "        return item\n    if default is None:\n        raise ValueError(\n"
    "            'first() was called on an empty iterable",
)
RS_BUG = (
    "src/eval.rs",
    "        if ver.patch != patch {\n            return ver.patch > patch;\n        }\n"
    "    }\n\n    ver.pre >= cmp.pre\n}\n\nfn matches_caret",
    "        if ver.patch != patch {\n            return ver.patch < patch;\n        }\n"
    "    }\n\n    ver.pre >= cmp.pre\n}\n\nfn matches_caret",
)
RS_WRONG = (RS_BUG[0], RS_BUG[2], RS_BUG[2].replace("ver.patch < patch", "ver.patch <= patch"))

# Three wrong candidates per workspace for the candidates figure, as (file, snippet of the
# buggy tree, replacement): each keeps the failing test failing.
WRONGS = {
    "python": [
        (PY_BUG[0], "    if default is _marker:\n        raise ValueError(\n"
                    "            'first() was called on an empty iterable",
         "    if default is None:\n        raise ValueError(\n"
         "            'first() was called on an empty iterable"),
        (PY_BUG[0], "        )\n    return None\n\n\ndef last(",
         "        )\n    return item\n\n\ndef last("),
        (PY_BUG[0], "    for item in iterable:\n        return item\n    if default is _marker:",
         "    for item in iterable:\n        return default\n    if default is _marker:"),
    ],
    "rust": [
        (RS_BUG[0], "            return ver.patch < patch;\n        }\n    }\n\n    ver.pre",
         "            return ver.patch <= patch;\n        }\n    }\n\n    ver.pre"),
        (RS_BUG[0], "            return ver.patch < patch;\n        }\n    }\n\n    ver.pre",
         "            return ver.patch == patch;\n        }\n    }\n\n    ver.pre"),
        (RS_BUG[0], "            return ver.patch < patch;\n        }\n    }\n\n    ver.pre",
         "            return patch > ver.patch;\n        }\n    }\n\n    ver.pre"),
    ],
}

GITIGNORE = "target/\n__pycache__/\n*.pyc\n.pytest_cache/\n.pp-artifacts/\npp.yaml\n"


def sh(args, cwd, check=True, **kw):
    return subprocess.run(args, cwd=cwd, check=check, **kw)


def git(ws, *args, **kw):
    return sh(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args], ws,
              capture_output=True, text=True, **kw)


def replace_once(path, old, new):
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, f"{path}: snippet found {text.count(old)} times"
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def diff_of(ws, path, old, new):
    """The diff that turns snippet `old` into `new` in the committed file (left unchanged)."""
    replace_once(os.path.join(ws, path), old, new)
    d = git(ws, "diff").stdout
    git(ws, "checkout", "--", path)
    assert d.startswith("diff --git"), d
    return d


def commit_upstream_and_bug(ws, bug, wrong):
    with open(os.path.join(ws, ".gitignore"), "a") as f:
        f.write(GITIGNORE)
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "upstream")
    path, good, bad = bug
    replace_once(os.path.join(ws, path), good, bad)
    git(ws, "commit", "-q", "-am", "inject a one-line bug")
    fix = diff_of(ws, path, bad, good)
    wrong_diff = diff_of(ws, wrong[0], wrong[1], wrong[2])
    with open(os.path.join(ws, "..", os.path.basename(ws) + ".fix.diff"), "w") as f:
        f.write(fix)
    with open(os.path.join(ws, "..", os.path.basename(ws) + ".wrong.diff"), "w") as f:
        f.write(wrong_diff)


def setup_python(work):
    ws = os.path.join(work, "python")
    if os.path.exists(os.path.join(ws, ".git")):
        return ws
    dl = os.path.join(work, "download")
    os.makedirs(dl, exist_ok=True)
    sh([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
        f"{PY_PKG}=={PY_VER}", "-d", dl], work)
    sdist = next(os.path.join(dl, n) for n in os.listdir(dl)
                 if n.replace("_", "-").startswith(f"{PY_PKG}-{PY_VER}"))
    with tarfile.open(sdist) as t:
        t.extractall(dl, filter="data")
    src = os.path.join(dl, os.path.basename(sdist)[: -len(".tar.gz")])
    shutil.move(src, ws)
    assert os.path.isdir(os.path.join(ws, "tests")), "the sdist ships no tests"
    commit_upstream_and_bug(ws, PY_BUG, PY_WRONG)
    return ws


def setup_rust(work):
    ws = os.path.join(work, "rust")
    if os.path.exists(os.path.join(ws, ".git")):
        return ws
    dl = os.path.join(work, "download")
    os.makedirs(dl, exist_ok=True)
    crate = os.path.join(dl, f"{RS_CRATE}-{RS_VER}.crate")
    url = f"https://static.crates.io/crates/{RS_CRATE}/{RS_CRATE}-{RS_VER}.crate"
    with urllib.request.urlopen(url, timeout=60) as r, open(crate, "wb") as f:
        f.write(r.read())
    with tarfile.open(crate) as t:
        t.extractall(dl, filter="data")
    shutil.move(os.path.join(dl, f"{RS_CRATE}-{RS_VER}"), ws)
    assert os.listdir(os.path.join(ws, "tests")), "the crate ships no tests"
    # The lock file is the one step here that reads the registry's index.
    sh(["cargo", "generate-lockfile", "-q"], ws)
    commit_upstream_and_bug(ws, RS_BUG, RS_WRONG)
    return ws


def timed(cmd, cwd):
    t = time.perf_counter()
    p = subprocess.run(["sh", "-c", cmd], cwd=cwd, capture_output=True, text=True)
    return (time.perf_counter() - t) * 1000, p.returncode


def write_proposer(d, replies):
    """`replies`: one diff per request; a list of diffs is one reply of several candidates."""
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for i, r in enumerate(replies, 1):
        with open(os.path.join(d, f"reply_{i}.txt"), "w") as f:
            if isinstance(r, list):
                f.write(json.dumps([{"diff": x} for x in r]))
            else:
                f.write(json.dumps({"diff": r}))
    script = os.path.join(d, "proposer.sh")
    with open(script, "w") as f:
        f.write(
            f"#!/bin/sh\nd='{d}'\nn=$(cat \"$d/count\" 2>/dev/null || echo 0)\nn=$((n+1))\n"
            f"echo $n > \"$d/count\"\ncat > \"$d/request_$n.json\"\n"
            f"if [ $n -gt {len(replies)} ]; then n={len(replies)}; fi\ncat \"$d/reply_$n.txt\"\n"
        )
    os.chmod(script, 0o755)
    return script


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def session(pp, ws, cmd, failing_first, replies, scratch, extra_policy=""):
    with open(os.path.join(ws, "pp.yaml"), "w") as f:
        f.write(f"policy:\n  failing_first: {str(failing_first).lower()}\n  minimize: false\n"
                + extra_policy)
    script = write_proposer(scratch, replies)
    t = time.perf_counter()
    p = subprocess.run([pp, "run", cmd, "--provider", f"command:{script}", "--json"], cwd=ws,
                       capture_output=True, text=True)
    wall = (time.perf_counter() - t) * 1000
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        sys.exit(f"pp printed no JSON (exit {p.returncode}):\n{p.stderr[-3000:]}")
    bundle = doc["proof_bundle"]
    events = []
    with open(os.path.join(bundle, "events.jsonl")) as f:
        events = [json.loads(line) for line in f]

    def at(event, attempt=None):
        return next((e["elapsed_ms"] for e in events if e["event"] == event
                     and (attempt is None or e.get("attempt") == attempt)), None)

    runs = [e for e in events if e["event"] == "run_end"]
    ff = read_json(os.path.join(bundle, "attempts", "0_baseline", "failing_first.json"))
    v1 = read_json(os.path.join(bundle, "attempts", "1", "verification.json")) or {}
    out = {
        "status": doc["status"],
        "attempts_used": doc["attempts_used"],
        "wall_ms": round(wall),
        "pp_duration_ms": doc.get("duration_ms"),
        "runs": [{k: e.get(k) for k in ("phase", "attempt", "run", "duration_ms", "exit_code")}
                 | {"ran": (e.get("tests") or {}).get("ran")} for e in runs],
        "failing_first": ff,
        "attempt1_failing_tests_only": v1.get("failing_tests_only"),
    }
    phase_ms = {}
    for e in runs:
        phase_ms[e["phase"]] = phase_ms.get(e["phase"], 0) + (e.get("duration_ms") or 0)
    phase_ms["rest"] = round(wall) - sum(phase_ms.values())
    out["phase_ms"] = phase_ms
    a1, p2 = at("apply", 1), at("propose", 2)
    if a1 is not None and p2 is not None:
        out["reject_ms"] = p2 - a1
    p1, won = at("propose", 1), at("winner")
    if p1 is not None and won is not None:
        out["candidates_ms"] = won - p1
    cands = read_json(os.path.join(bundle, "attempts", "1", "candidates.json"))
    if cands:
        out["candidates"] = [c["verdict"] for c in cands["candidates"]]
    if any(r["ran"] is None for r in out["runs"]):
        # A run with no test report is odd here: keep its bundle to read the logs.
        kept = os.path.join(os.path.dirname(ws), "kept", os.path.basename(os.path.dirname(bundle)))
        shutil.copytree(bundle, kept, dirs_exist_ok=True)
        out["kept_bundle"] = kept
    shutil.rmtree(os.path.join(ws, ".pp-artifacts"), ignore_errors=True)
    return out


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def bench(name, ws, cmd, pp, runs, scratch, candidates=True):
    work = os.path.dirname(ws)
    with open(os.path.join(work, f"{name}.fix.diff")) as f:
        fix = f.read()
    with open(os.path.join(work, f"{name}.wrong.diff")) as f:
        wrong = f.read()
    git(ws, "reset", "-q", "--hard")
    # Bare runs on the fixed tree (first, so the buggy tree's warm-up comes last): right after
    # the edit (cargo rebuilds the lib and every test binary), then warm.
    ms, _ = timed(cmd, ws)
    print(f"[{name}] first run (cold build, caches) {ms / 1000:.1f} s, not counted", file=sys.stderr)
    bare_edited, bare_fixed = [], []
    for _ in range(runs):
        git(ws, "apply", input=fix)
        ms, rc = timed(cmd, ws)
        assert rc == 0, f"{name}: the suite fails on the fixed tree"
        bare_edited.append(ms)
        bare_fixed.append(timed(cmd, ws)[0])
        git(ws, "checkout", "-q", "--", ".")
    print(f"[{name}] fixed tree: just edited {med(bare_edited) / 1000:.1f} s, "
          f"warm {med(bare_fixed) / 1000:.1f} s", file=sys.stderr)
    ms, rc = timed(cmd, ws)
    print(f"[{name}] buggy tree warm-up {ms / 1000:.1f} s (exit {rc})", file=sys.stderr)
    assert rc != 0, f"{name}: the injected bug fails no test"
    wrongs = [diff_of(ws, *w) for w in WRONGS[name]]
    res = {k: [] for k in ("bare", "one_on", "one_off", "wrong_on", "wrong_off", "cand_seq",
                           "cand_par")}
    for i in range(runs):
        ms, rc = timed(cmd, ws)
        res["bare"].append({"wall_ms": round(ms), "exit_code": rc})
        for key, ff, replies in (("one_on", True, [fix]), ("one_off", False, [fix]),
                                 ("wrong_on", True, [wrong, fix]),
                                 ("wrong_off", False, [wrong, fix])):
            s = session(pp, ws, cmd, ff, replies, scratch)
            want = 1 if key.startswith("one") else 2
            assert s["status"] == "proven" and s["attempts_used"] == want, (key, s)
            res[key].append(s)
            extra = f", reject {s['reject_ms'] / 1000:.1f} s" if "reject_ms" in s else ""
            print(f"[{name}] run {i + 1} {key}: {s['wall_ms'] / 1000:.1f} s{extra}",
                  file=sys.stderr)
        if not candidates:
            continue
        for key, want, policy, replies in (
                ("cand_seq", 4, "  limits: {max_attempts: 4}\n", wrongs + [fix]),
                ("cand_par", 1, "  candidates: 4\n", [wrongs + [fix]])):
            s = session(pp, ws, cmd, True, replies, scratch, policy)
            assert s["status"] == "proven" and s["attempts_used"] == want, (key, s)
            res[key].append(s)
            print(f"[{name}] run {i + 1} {key}: {s['wall_ms'] / 1000:.1f} s, candidates "
                  f"{s.get('candidates_ms', 0) / 1000:.1f} s {s.get('candidates', '')}",
                  file=sys.stderr)
    os.remove(os.path.join(ws, "pp.yaml"))
    bare = med(r["wall_ms"] for r in res["bare"])
    summary = {
        "bare_ms": bare,
        "bare_fixed_tree_ms": med(bare_fixed),
        "bare_fixed_tree_just_edited_ms": med(bare_edited),
        "one_on_ms": med(s["wall_ms"] for s in res["one_on"]),
        "one_off_ms": med(s["wall_ms"] for s in res["one_off"]),
        "reject_on_ms": med(s.get("reject_ms") for s in res["wrong_on"]),
        "reject_off_ms": med(s.get("reject_ms") for s in res["wrong_off"]),
        "wrong_on_ms": med(s["wall_ms"] for s in res["wrong_on"]),
        "wrong_off_ms": med(s["wall_ms"] for s in res["wrong_off"]),
    }
    for k in ("one_on", "one_off", "reject_on", "reject_off"):
        summary[f"{k}_x_bare"] = round(summary[f"{k}_ms"] / bare, 2)
    for k in ("one_on", "one_off"):
        summary[f"{k}_x_edited"] = round(summary[f"{k}_ms"] / summary["bare_fixed_tree_just_edited_ms"], 2)
    if res["cand_par"]:
        for k in ("cand_seq", "cand_par"):
            summary[f"{k}_ms"] = med(s["wall_ms"] for s in res[k])
            summary[f"{k}_candidates_ms"] = med(s.get("candidates_ms") for s in res[k])
        summary["cand_par_x_seq"] = round(summary["cand_par_ms"] / summary["cand_seq_ms"], 2)
        summary["cand_par_x_seq_candidates"] = round(
            summary["cand_par_candidates_ms"] / summary["cand_seq_candidates_ms"], 2)
    return {"summary": summary, "samples": res, "bare_fixed_tree_ms": bare_fixed,
            "bare_fixed_tree_just_edited_ms": bare_edited}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pp", default=os.path.join(os.path.dirname(__file__), "..", "target",
                                                 "release", "pp"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/pp-bench-ttp",
                    help="where the workspaces are built (kept and reused between invocations)")
    ap.add_argument("--only", default="python,rust")
    ap.add_argument("--json", default=None, help="results file (default: WORK/results.json)")
    ap.add_argument("--no-candidates", action="store_true",
                    help="skip the candidates: 4 against candidates: 1 sessions")
    a = ap.parse_args()
    pp = os.path.abspath(a.pp)
    if not os.path.exists(pp):
        sys.exit(f"{pp} not found: build it with `cargo build --release`")
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    only = a.only.split(",")
    spaces = []
    if "python" in only:
        spaces.append(("python", setup_python(work), PY_CMD, f"{PY_PKG} {PY_VER}"))
    if "rust" in only:
        spaces.append(("rust", setup_rust(work), RS_CMD, f"{RS_CRATE} {RS_VER}"))
    results = {"pp": pp, "runs": a.runs, "nproc": os.cpu_count(),
               "loadavg_start": os.getloadavg(), "workspaces": {}}
    for name, ws, cmd, what in spaces:
        r = bench(name, ws, cmd, pp, a.runs, os.path.join(work, "proposer-" + name),
                  not a.no_candidates)
        r["package"], r["command"] = what, cmd
        results["workspaces"][name] = r
    results["loadavg_end"] = os.getloadavg()
    out = a.json or os.path.join(work, "results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)

    def s(ms):
        return f"{ms / 1000:.1f} s" if ms is not None else "—"

    print(f"medians of {a.runs}; load average {results['loadavg_start'][0]:.1f} at start, "
          f"{results['loadavg_end'][0]:.1f} at end, {os.cpu_count()} cores\n")
    print("| suite | bare full run: failing tree, warm (fixed tree warm; fixed tree just edited) "
          "| one-attempt proof, before (failing_first: false) | after (true) | goal < 2.3x "
          "| reject a wrong candidate, before | after | goal < 0.3x |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ws, cmd, what in spaces:
        m = results["workspaces"][name]["summary"]
        print(f"| {what} (`{cmd}`) | {s(m['bare_ms'])} ({s(m['bare_fixed_tree_ms'])}; "
              f"{s(m['bare_fixed_tree_just_edited_ms'])}) "
              f"| {s(m['one_off_ms'])} = {m['one_off_x_bare']}x | {s(m['one_on_ms'])} = "
              f"{m['one_on_x_bare']}x ({m['one_on_x_edited']}x the just-edited run) "
              f"| {'met' if m['one_on_x_bare'] < 2.3 else 'missed'} "
              f"| {s(m['reject_off_ms'])} = {m['reject_off_x_bare']}x | {s(m['reject_on_ms'])} = "
              f"{m['reject_on_x_bare']}x | {'met' if m['reject_on_x_bare'] < 0.3 else 'missed'} |")
    phases = ("baseline", "reproduce", "verify_failing", "verify", "rest")
    print("\nwhere a session's time goes (medians of each part, seconds; `rest` = pp itself, the "
          "proposer, sandbox setup and undo):\n")
    print("| suite | session | " + " | ".join(phases) + " |")
    print("|---|---|" + "---|" * len(phases))
    for name, ws, cmd, what in spaces:
        samples = results["workspaces"][name]["samples"]
        for key in ("one_off", "one_on", "wrong_off", "wrong_on"):
            cells = [med(x["phase_ms"].get(ph) for x in samples[key]) for ph in phases]
            print(f"| {name} | {key} | " + " | ".join(
                "—" if c is None else f"{c / 1000:.1f}" for c in cells) + " |")
        for key in ("one_on", "wrong_on"):
            ff = samples[key][0].get("failing_first") or {}
            print(f"\n{name} {key} failing_first.json: {json.dumps(ff)[:600]}")
    print("\ncandidates: 4 (three wrong, then the fix; policy.parallelism default = "
          f"{os.cpu_count()} cores) against candidates: 1 with max_attempts: 4:\n")
    print("| suite | sequential: session (candidates part) | 4 at once: session (candidates part) "
          "| ratio, session | ratio, candidates part | goal < 0.6x |")
    print("|---|---|---|---|---|---|")
    for name, ws, cmd, what in spaces:
        m = results["workspaces"][name]["summary"]
        if "cand_par_x_seq" not in m:
            continue
        print(f"| {what} | {s(m['cand_seq_ms'])} ({s(m['cand_seq_candidates_ms'])}) "
              f"| {s(m['cand_par_ms'])} ({s(m['cand_par_candidates_ms'])}) "
              f"| {m['cand_par_x_seq']}x | {m['cand_par_x_seq_candidates']}x "
              f"| {'met' if m['cand_par_x_seq'] < 0.6 else 'missed'} (session), "
              f"{'met' if m['cand_par_x_seq_candidates'] < 0.6 else 'missed'} (candidates part) |")
    print(f"\nresults: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
