//! The `search` proposer: candidate patches with no model, for logic bugs. It ranks lines by
//! fault localization (`localize`), makes the classic small edits at each (`mutate`, on a real
//! parse with byte positions), and tries them one by one through the session's [`Trials`]
//! (apply in the sandbox, run the failing tests, then everything, undo) until one passes or the
//! budget is spent. The winner is then verified as any candidate is; search only proposes.

mod lang;
mod localize;
mod mutate;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use lang::Lang;
pub use localize::{PYTHON_TRACER, RankedLine, Reason, Spectrum, localize, rust_backtrace};
pub use mutate::{Mutant, Operator, SourceFile};

use crate::context::SourceTree;
use crate::patch::{FileRewrite, ReplyBody, candidate_diff};
use localize::Files;

/// `policy.search`: whether `search` runs, and how much it may try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// Most candidates tried in one session.
    pub max_trials: u32,
    /// Most wall time spent trying, in seconds.
    pub max_seconds: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_trials: 200,
            max_seconds: 600,
        }
    }
}

/// What one trial found.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed: the candidate goes on to verification.
    Passed,
    /// The originally failing tests still fail (or it does not build).
    FailingStillFail,
    /// The failing tests pass but something else broke.
    BrokeOthers,
    /// The policy refused the edit.
    Refused,
}

/// The session's side of a search: applies a candidate diff in the sandbox, runs the checks,
/// and undoes it, whatever the verdict.
pub trait Trials {
    /// `Err` stops the search (interrupted, infrastructure failure), with the reason.
    fn run(&mut self, mutant: &Mutant, diff: &str)
    -> impl Future<Output = Result<Verdict, String>>;
}

/// One candidate tried.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub edit: String,
    pub operator: Operator,
    pub verdict: Verdict,
    pub ms: u64,
}

/// Why the search ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum Stop {
    Found,
    /// Every edit of every ranked line was tried.
    Exhausted,
    TrialLimit,
    TimeLimit,
    /// Nothing to edit: no ranked line is in a file search can parse.
    NothingToTry,
    /// The trials could not go on.
    Aborted(String),
}

/// The whole search, for `search.json` in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub budget: Budget,
    /// The ranking, best first (at most the lines the budget could reach).
    pub localization: Vec<RankedLine>,
    pub trials: Vec<Trial>,
    pub stop: Stop,
    /// The edit that passed, when one did.
    pub winner: Option<Mutant>,
    /// Its diff, when one passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub seconds: f64,
}

impl Report {
    /// The note every summary carries for a patch found by search.
    pub fn overfitting_note(&self) -> String {
        format!(
            "found by search after {} candidate(s): a patch found by trying many candidates is \
             more likely to fit the tests rather than the intent than one found on the first \
             try; read it before merging",
            self.trials.len()
        )
    }
}

/// Runs a search over the sandbox at `root` (read through `tree`) for the failure in `ranking`.
pub async fn search(
    root: &Path,
    tree: &dyn SourceTree,
    ranking: Vec<RankedLine>,
    editable: &dyn Fn(&str) -> bool,
    budget: &Budget,
    trials: &mut impl Trials,
) -> Report {
    let started = Instant::now();
    let mut files = Files::new(tree, editable);
    let mut report = Report {
        format_version: 1,
        budget: budget.clone(),
        localization: Vec::new(),
        trials: Vec::new(),
        stop: Stop::NothingToTry,
        winner: None,
        diff: None,
        seconds: 0.0,
    };
    let limit = Duration::from_secs(budget.max_seconds);
    let mut tried_any = false;
    let mut stop = None;
    'lines: for ranked in &ranking {
        let Some(file) = files.get(&ranked.path) else {
            continue;
        };
        let mutants = file.mutants_at(ranked.line);
        report.localization.push(ranked.clone());
        let (path, text) = (file.path.clone(), file.text.clone());
        for m in mutants {
            if report.trials.len() as u32 >= budget.max_trials {
                stop = Some(Stop::TrialLimit);
                break 'lines;
            }
            if started.elapsed() >= limit {
                stop = Some(Stop::TimeLimit);
                break 'lines;
            }
            tried_any = true;
            let body = ReplyBody::Rewrites(vec![FileRewrite {
                path: path.clone(),
                content: m.apply(&text),
            }]);
            let Ok(diff) = candidate_diff(root, &body) else {
                continue;
            };
            let t0 = Instant::now();
            let verdict = match trials.run(&m, &diff).await {
                Ok(v) => v,
                Err(why) => {
                    stop = Some(Stop::Aborted(why));
                    break 'lines;
                }
            };
            report.trials.push(Trial {
                edit: m.describe(),
                operator: m.operator,
                verdict,
                ms: t0.elapsed().as_millis() as u64,
            });
            if verdict == Verdict::Passed {
                report.winner = Some(m);
                report.diff = Some(diff);
                stop = Some(Stop::Found);
                break 'lines;
            }
        }
    }
    report.stop = stop.unwrap_or(if tried_any {
        Stop::Exhausted
    } else {
        Stop::NothingToTry
    });
    report.seconds = started.elapsed().as_secs_f64();
    report
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::context::DiskTree;

    /// Trials that "run the tests" by evaluating the edited file: passes when it holds `want`.
    struct Fake {
        root: std::path::PathBuf,
        want: &'static str,
        seen: Vec<String>,
    }

    impl Trials for Fake {
        async fn run(&mut self, m: &Mutant, _diff: &str) -> Result<Verdict, String> {
            let text = std::fs::read_to_string(self.root.join(&m.path)).unwrap();
            let edited = m.apply(&text);
            self.seen.push(m.describe());
            Ok(if edited.contains(self.want) {
                Verdict::Passed
            } else {
                Verdict::FailingStillFail
            })
        }
    }

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A file with a bug on line 5 and a ranking of its six lines, last first (also the
    /// session side's trial tests' fixture).
    pub(crate) fn setup() -> (tempfile::TempDir, Vec<RankedLine>) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("calc.py"),
            "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return lo\n    return x\n",
        )
        .unwrap();
        let ranking = (1..=6)
            .rev()
            .map(|line| RankedLine {
                path: "calc.py".into(),
                line,
                score: 1.0,
                reason: Reason::NearFrame,
            })
            .collect();
        (tmp, ranking)
    }

    #[test]
    fn finds_the_edit_that_passes_and_stops_there() {
        let (tmp, ranking) = setup();
        let tree = DiskTree::new(tmp.path());
        let mut t = Fake {
            root: tmp.path().into(),
            want: "    if x > hi:\n        return hi\n",
            seen: Vec::new(),
        };
        let r = block(search(
            tmp.path(),
            &tree,
            ranking,
            &|_| true,
            &Budget::default(),
            &mut t,
        ));
        assert_eq!(r.stop, Stop::Found);
        let w = r.winner.clone().unwrap();
        assert_eq!((w.line, w.operator), (5, Operator::ReplaceVariable));
        assert_eq!(r.trials.len(), t.seen.len());
        assert_eq!(r.trials.last().unwrap().verdict, Verdict::Passed);
        let diff = r.diff.clone().unwrap();
        assert!(
            diff.contains("-        return lo\n+        return hi\n"),
            "{diff}"
        );
        // The sandbox itself is the session's to change: search only read it.
        assert!(
            std::fs::read_to_string(tmp.path().join("calc.py"))
                .unwrap()
                .contains("return lo\n    return x")
        );
        assert!(
            r.overfitting_note()
                .contains(&format!("after {} candidate", r.trials.len()))
        );
    }

    #[test]
    fn budgets_hold() {
        let (tmp, ranking) = setup();
        let tree = DiskTree::new(tmp.path());
        let mut t = Fake {
            root: tmp.path().into(),
            want: "no edit makes this",
            seen: Vec::new(),
        };
        let small = Budget {
            max_trials: 3,
            max_seconds: 600,
        };
        let r = block(search(
            tmp.path(),
            &tree,
            ranking.clone(),
            &|_| true,
            &small,
            &mut t,
        ));
        assert_eq!((r.stop.clone(), r.trials.len()), (Stop::TrialLimit, 3));
        let none = Budget {
            max_trials: 100,
            max_seconds: 0,
        };
        let r = block(search(
            tmp.path(),
            &tree,
            ranking.clone(),
            &|_| true,
            &none,
            &mut t,
        ));
        assert_eq!((r.stop.clone(), r.trials.len()), (Stop::TimeLimit, 0));
        let r = block(search(
            tmp.path(),
            &tree,
            ranking,
            &|_| true,
            &Budget::default(),
            &mut t,
        ));
        assert_eq!(r.stop, Stop::Exhausted);
        assert!(r.winner.is_none());
        let r = block(search(
            tmp.path(),
            &tree,
            Vec::new(),
            &|_| true,
            &Budget::default(),
            &mut t,
        ));
        assert_eq!(r.stop, Stop::NothingToTry);
    }
}
