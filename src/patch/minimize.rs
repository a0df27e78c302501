//! Minimization pieces: listing a patch's hunks by id, rendering the sub-patch for any subset of
//! ids (hunks, or, for the finer pass, changed lines), and a generic delta-debugging driver that
//! finds a smaller subset still passing a test.
//! Running the test (applying, verifying, undoing in the sandbox) is the caller's job.

use std::collections::HashMap;
use std::future::Future;

use serde::Serialize;

use super::model::{FileOp, FilePatch, Hunk, HunkLine, Patch};
use super::render::render;

/// One minimization unit of a patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HunkInfo {
    /// Patch-wide id, counting from 0 in patch order.
    pub id: usize,
    /// The path the entry leaves behind.
    pub path: String,
    /// The hunk's canonical `@@` header; `None` for an entry without hunks (a pure rename,
    /// mode change, empty new file or header-only deletion), which is one unit of its own.
    pub header: Option<String>,
}

/// The units of `patch`: one per hunk, and one per file entry without hunks. The ids match
/// `HunkReport::id` in the apply report.
pub fn hunks(patch: &Patch) -> Vec<HunkInfo> {
    let mut out = Vec::new();
    for fp in &patch.files {
        if fp.hunks.is_empty() {
            out.push(HunkInfo {
                id: out.len(),
                path: fp.path().to_owned(),
                header: None,
            });
        }
        for h in &fp.hunks {
            out.push(HunkInfo {
                id: out.len(),
                path: fp.path().to_owned(),
                header: Some(h.header()),
            });
        }
    }
    out
}

/// The patch holding only the units in `keep`. A created or deleted file is all or nothing:
/// keeping any of its hunks keeps the whole entry. Kept hunks' new start lines are shifted for
/// the hunks dropped before them, so the text is a valid unified diff.
pub fn sub_patch(patch: &Patch, keep: &[usize]) -> Patch {
    let mut out = Patch::default();
    let mut first = 0;
    for fp in &patch.files {
        let n = fp.hunks.len().max(1);
        let kept: Vec<usize> = (0..n).filter(|k| keep.contains(&(first + k))).collect();
        first += n;
        if kept.is_empty() {
            continue;
        }
        if fp.hunks.is_empty() || matches!(fp.op, FileOp::Create | FileOp::Delete) {
            out.files.push(fp.clone());
            continue;
        }
        let mut entry = fp.clone();
        let mut delta: i64 = 0;
        entry.hunks = kept
            .iter()
            .filter_map(|&k| fp.hunks.get(k))
            .map(|h| {
                let shifted = shift(h, delta);
                delta += h.new_len() as i64 - h.old_len() as i64;
                shifted
            })
            .collect();
        out.files.push(entry);
    }
    out
}

fn shift(h: &Hunk, delta: i64) -> Hunk {
    let new_index = (h.old_index() as i64 + delta).max(0) as usize;
    Hunk {
        new_start: if h.new_len() == 0 {
            new_index
        } else {
            new_index + 1
        },
        ..h.clone()
    }
}

/// The number of units of the finer pass over `patch` (see [`sub_patch_lines`]): a changed
/// line, where a deleted line and the inserted line that replaces it (the k-th deletion and the
/// k-th insertion of a run of changed lines) are one unit; one unit per entry that is all or
/// nothing (a created or deleted file, an entry without hunks) and per hunk at the end of a file
/// without a final newline.
pub fn changed_lines(patch: &Patch) -> usize {
    let mut next = 0;
    for fp in &patch.files {
        if atomic_entry(fp) {
            next += 1;
            continue;
        }
        for h in &fp.hunks {
            next = line_units(h, next).1;
        }
    }
    next
}

/// The patch keeping only the units in `keep`, ids as [`changed_lines`] counts them: a deleted
/// line left out stays as context, an inserted line left out is dropped, a hunk left with no
/// change goes, and later hunks' new start lines are shifted to match.
pub fn sub_patch_lines(patch: &Patch, keep: &[usize]) -> Patch {
    let mut out = Patch::default();
    let mut next = 0;
    for fp in &patch.files {
        if atomic_entry(fp) {
            if keep.contains(&next) {
                out.files.push(fp.clone());
            }
            next += 1;
            continue;
        }
        let mut entry = fp.clone();
        let mut delta: i64 = 0;
        entry.hunks.clear();
        for h in &fp.hunks {
            let (ids, after) = line_units(h, next);
            next = after;
            let mut lines = Vec::with_capacity(h.lines.len());
            for (l, id) in h.lines.iter().zip(ids) {
                match (l, id) {
                    (_, Some(id)) if !keep.contains(&id) => {
                        if let HunkLine::Delete(t) = l {
                            lines.push(HunkLine::Context(t.clone()));
                        }
                    }
                    _ => lines.push(l.clone()),
                }
            }
            let h = Hunk { lines, ..h.clone() };
            if h.lines.iter().any(|l| !matches!(l, HunkLine::Context(_))) {
                entry.hunks.push(shift(&h, delta));
                delta += h.new_len() as i64 - h.old_len() as i64;
            }
        }
        if !entry.hunks.is_empty() {
            out.files.push(entry);
        }
    }
    out
}

/// The unit of each line of `h` (`None` for context), numbering from `first`, and the next
/// free id.
fn line_units(h: &Hunk, first: usize) -> (Vec<Option<usize>>, usize) {
    let mut ids = vec![None; h.lines.len()];
    let mut next = first;
    if atomic_hunk(h) {
        for (i, l) in h.lines.iter().enumerate() {
            if !matches!(l, HunkLine::Context(_)) {
                ids[i] = Some(first);
            }
        }
        return (ids, first + 1);
    }
    let mut i = 0;
    while i < h.lines.len() {
        if matches!(h.lines[i], HunkLine::Context(_)) {
            i += 1;
            continue;
        }
        // A run of changed lines: pair the k-th deletion with the k-th insertion.
        let end = (i..h.lines.len())
            .find(|&j| matches!(h.lines[j], HunkLine::Context(_)))
            .unwrap_or(h.lines.len());
        let (mut deletes, mut inserts) = (Vec::new(), Vec::new());
        for j in i..end {
            match h.lines[j] {
                HunkLine::Delete(_) => deletes.push(j),
                _ => inserts.push(j),
            }
        }
        for k in 0..deletes.len().max(inserts.len()) {
            for line in [deletes.get(k), inserts.get(k)].into_iter().flatten() {
                ids[*line] = Some(next);
            }
            next += 1;
        }
        i = end;
    }
    (ids, next)
}

/// An entry kept or dropped whole by the finer pass.
fn atomic_entry(fp: &FilePatch) -> bool {
    fp.hunks.is_empty() || matches!(fp.op, FileOp::Create | FileOp::Delete)
}

/// A hunk at the end of a file without a final newline: which side's last line lacks it depends
/// on every change, so its changes go together.
fn atomic_hunk(h: &Hunk) -> bool {
    h.old_missing_newline || h.new_missing_newline
}

/// The unified diff text of [`sub_patch`].
pub fn render_subset(patch: &Patch, keep: &[usize]) -> String {
    render(&sub_patch(patch, keep))
}

/// One test run made while minimizing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinimizeRun {
    /// The ids tried.
    pub subset: Vec<usize>,
    /// Whether the test passed with them.
    pub passed: bool,
}

/// The outcome of [`minimize`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Minimized {
    /// The ids kept, ascending: a subset that passed (or all ids when nothing smaller did).
    pub kept: Vec<usize>,
    /// Every run, in order.
    pub runs: Vec<MinimizeRun>,
    /// Whether `max_runs` stopped the search before it finished.
    pub exhausted: bool,
}

/// Delta debugging (ddmin): finds a subset of `0..hunks` that still passes `test`, trying halves,
/// then complements, then finer splits.
///
/// The full set is assumed to pass (it was just proven) and is never run; no subset is run
/// twice. Runs made: at most `min(max_runs, hunks² + 3·hunks)` (Zeller and Hildebrandt's
/// worst case for ddmin); when only one hunk matters it is about `2·log2(hunks)`. The result is
/// 1-minimal when the search is not `exhausted`: removing any single kept id fails the test.
/// A test error stops the search and is returned as is.
pub async fn minimize<F, Fut, E>(hunks: usize, max_runs: usize, mut test: F) -> Result<Minimized, E>
where
    F: FnMut(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<bool, E>>,
{
    // The worst-case bound is also enforced, so the doc's promise holds whatever the test does.
    let max_runs = max_runs.min(
        hunks
            .saturating_mul(hunks)
            .saturating_add(hunks.saturating_mul(3)),
    );
    let mut current: Vec<usize> = (0..hunks).collect();
    let mut runs: Vec<MinimizeRun> = Vec::new();
    let mut seen: HashMap<Vec<usize>, bool> = HashMap::new();
    seen.insert(current.clone(), true);
    let mut exhausted = false;
    let mut n = 2;
    'search: while current.len() >= 2 {
        let chunks = split(&current, n);
        let mut candidates: Vec<Vec<usize>> = chunks.clone();
        if n > 2 {
            candidates.extend((0..chunks.len()).map(|i| {
                current
                    .iter()
                    .copied()
                    .filter(|id| !chunks[i].contains(id))
                    .collect()
            }));
        }
        let mut reduced = None;
        for (k, subset) in candidates.into_iter().enumerate() {
            let passed = match seen.get(&subset) {
                Some(&p) => p,
                None => {
                    if runs.len() >= max_runs {
                        exhausted = true;
                        break 'search;
                    }
                    let passed = test(subset.clone()).await?;
                    seen.insert(subset.clone(), passed);
                    runs.push(MinimizeRun {
                        subset: subset.clone(),
                        passed,
                    });
                    passed
                }
            };
            if passed {
                reduced = Some((subset, k < chunks.len()));
                break;
            }
        }
        match reduced {
            Some((subset, was_chunk)) => {
                current = subset;
                n = if was_chunk { 2 } else { (n - 1).max(2) };
            }
            None if n >= current.len() => break,
            None => n = (n * 2).min(current.len()),
        }
    }
    Ok(Minimized {
        kept: current,
        runs,
        exhausted,
    })
}

/// Splits `items` into `n` nearly equal consecutive chunks.
fn split(items: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.clamp(1, items.len().max(1));
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for k in 0..n {
        let end = start + (items.len() - start) / (n - k);
        out.push(items[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::parse::parse;

    fn run<F, Fut>(hunks: usize, max_runs: usize, test: F) -> Minimized
    where
        F: FnMut(Vec<usize>) -> Fut,
        Fut: Future<Output = Result<bool, ()>>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(minimize(hunks, max_runs, test)).unwrap()
    }

    #[test]
    fn finds_the_needed_hunks_within_the_bound() {
        for needed in [vec![3], vec![2, 5], vec![0, 7, 8], vec![]] {
            let want = needed.clone();
            let m = run(10, 1000, move |s: Vec<usize>| {
                let ok = want.iter().all(|w| s.contains(w));
                async move { Ok(ok) }
            });
            let expect = if needed.is_empty() {
                vec![0]
            } else {
                needed.clone()
            };
            assert_eq!(m.kept, expect, "needed {needed:?}");
            assert!(!m.exhausted);
            assert!(m.runs.len() <= 10 * 10 + 3 * 10);
            let distinct: std::collections::HashSet<_> =
                m.runs.iter().map(|r| r.subset.clone()).collect();
            assert_eq!(distinct.len(), m.runs.len(), "no subset runs twice");
            assert!(
                m.runs.iter().all(|r| r.subset.len() < 10),
                "the full set is never run"
            );
        }
    }

    #[test]
    fn the_finer_pass_keeps_chosen_lines_and_turns_dropped_deletions_into_context() {
        // One hunk: a docstring rewritten beside the fix, then a lone insertion and a lone
        // deletion in a second hunk.
        let text = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def f(a, b):\n-    \"\"\"Adds.\"\"\"\n-    return a - b\n+    \"\"\"Adds a and b.\"\"\"\n+    return a + b\n@@ -10,3 +10,3 @@\n x = 1\n+y = 2\n z = 3\n-w = 4\n";
        let patch = crate::patch::parse(text).unwrap();
        assert_eq!(hunks(&patch).len(), 2);
        // Two replaced lines (a deletion with its insertion each), then two single lines.
        assert_eq!(changed_lines(&patch), 4);
        // Only the fix: the docstring's deletion becomes context, its insertion goes, and the
        // second hunk, with nothing kept, goes.
        let fix = render(&sub_patch_lines(&patch, &[1]));
        assert_eq!(
            fix,
            "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def f(a, b):\n     \"\"\"Adds.\"\"\"\n-    return a - b\n+    return a + b\n"
        );
        // Only the second hunk's deletion: not shifted by the first hunk, which is gone.
        let later = sub_patch_lines(&patch, &[3]);
        assert_eq!(later.files[0].hunks.len(), 1);
        assert_eq!(later.files[0].hunks[0].new_start, 10);
        assert_eq!(later.files[0].hunks[0].new_len(), 2);
        assert!(sub_patch_lines(&patch, &[]).files.is_empty());
        assert_eq!(
            render(&sub_patch_lines(&patch, &[0, 1, 2, 3])),
            render(&patch)
        );
    }

    #[test]
    fn single_needed_hunk_takes_logarithmic_runs() {
        let m = run(64, 1000, |s: Vec<usize>| async move { Ok(s.contains(&41)) });
        assert_eq!(m.kept, vec![41]);
        assert!(m.runs.len() <= 2 * 6 + 2, "{} runs", m.runs.len());
    }

    #[test]
    fn max_runs_stops_the_search_and_keeps_a_passing_set() {
        let m = run(16, 3, |s: Vec<usize>| async move {
            Ok(s.contains(&1) && s.contains(&14))
        });
        assert_eq!(m.runs.len(), 3);
        assert!(m.exhausted);
        assert!(m.kept.contains(&1) && m.kept.contains(&14));
    }

    #[test]
    fn erratic_tests_stay_within_the_bound_and_keep_a_passing_set() {
        for seed in 0..200u64 {
            for k in [2usize, 3, 5, 8, 13] {
                let m = run(k, usize::MAX, move |s: Vec<usize>| {
                    // A deterministic but arbitrary (non-monotone) verdict per subset.
                    let h = s
                        .iter()
                        .fold(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), |h, &x| {
                            (h ^ x as u64).wrapping_mul(0x0100_0000_01b3)
                        });
                    async move { Ok(h % 3 == 0) }
                });
                assert!(
                    m.runs.len() <= k * k + 3 * k,
                    "k={k} seed={seed}: {} runs",
                    m.runs.len()
                );
                let full: Vec<usize> = (0..k).collect();
                assert!(m.kept == full || m.runs.iter().any(|r| r.passed && r.subset == m.kept));
            }
        }
    }

    #[test]
    fn test_errors_stop_the_search() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(minimize(4, 10, |_s: Vec<usize>| async {
            Err::<bool, _>("boom")
        }));
        assert_eq!(r.unwrap_err(), "boom");
    }

    #[test]
    fn sub_patch_keeps_chosen_hunks_and_shifts_new_starts() {
        let text = "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n+x\n b\n@@ -10,2 +11,3 @@\n c\n+y\n d\n--- /dev/null\n+++ b/g\n@@ -0,0 +1 @@\n+g\n";
        let patch = parse(text).unwrap();
        let ids = hunks(&patch);
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[2].path, "g");
        let sub = render_subset(&patch, &[1]);
        assert!(sub.contains("@@ -10,2 +10,3 @@"), "{sub}");
        assert!(!sub.contains("+x"), "{sub}");
        assert!(!sub.contains("b/g"), "{sub}");
        let again = parse(&sub).unwrap();
        assert_eq!(again.files.len(), 1);
        assert_eq!(again.files[0].hunks.len(), 1);
        assert!(render_subset(&patch, &[2]).contains("new file mode"));
    }
}
