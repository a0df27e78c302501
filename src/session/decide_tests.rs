use super::*;
use crate::exec::Capture;

use AttemptKind::*;

fn budget(max_attempts: u32) -> Budget {
    Budget {
        max_attempts,
        deterministic: false,
    }
}

fn run(target: &str, exit_code: i32, classification: Classification) -> TargetRun {
    TargetRun {
        target: target.into(),
        capture: Capture {
            command: format!("test {target}"),
            argv: Vec::new(),
            exit_code,
            timed_out: false,
            signal: None,
            duration_ms: 1,
            stdout_bytes: 0,
            stderr_bytes: 0,
            truncated: false,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            log_dir: std::path::PathBuf::new(),
        },
        tests: None,
        runner: None,
        classification,
    }
}

fn infra(rule: &str) -> Classification {
    Classification::Infra {
        rule: rule.into(),
        description: "it broke".into(),
        evidence: "line 1".into(),
    }
}

#[test]
fn the_first_attempt_follows_the_baseline() {
    assert_eq!(
        next(&[], budget(3)),
        Next::Attempt {
            number: 1,
            whole_file: false
        }
    );
}

#[test]
fn zero_attempts_allowed_ends_at_once() {
    assert_eq!(next(&[], budget(0)), Next::Exhausted);
}

#[test]
fn a_pass_is_proven_in_that_attempt() {
    assert_eq!(next(&[Passed], budget(3)), Next::Proven { attempt: 1 });
    assert_eq!(
        next(&[VerificationFailed, Rejected, Passed], budget(3)),
        Next::Proven { attempt: 3 }
    );
}

#[test]
fn a_pass_in_the_last_allowed_attempt_still_counts() {
    assert_eq!(
        next(&[NoChange, Passed], budget(2)),
        Next::Proven { attempt: 2 }
    );
}

#[test]
fn an_unusable_proposer_stops_the_session() {
    assert_eq!(next(&[ProposerUnusable], budget(3)), Next::ProposerUnusable);
    assert_eq!(
        next(&[ProposerFailed, ProposerUnusable], budget(3)),
        Next::ProposerUnusable
    );
}

#[test]
fn every_failed_verdict_goes_on_while_attempts_remain() {
    for v in [
        ProposerFailed,
        NoChange,
        Rejected,
        Duplicate,
        VerificationFailed,
    ] {
        assert_eq!(
            next(&[v], budget(2)),
            Next::Attempt {
                number: 2,
                whole_file: false
            },
            "{v:?}"
        );
        assert_eq!(next(&[v, v], budget(2)), Next::Exhausted, "{v:?}");
    }
}

#[test]
fn a_deterministic_chain_that_proposed_nothing_ends() {
    let b = Budget {
        max_attempts: 5,
        deterministic: true,
    };
    assert_eq!(next(&[NoChange], b), Next::Exhausted);
    // Only "nothing" ends it: a rejected or failed candidate may be followed by another.
    assert_eq!(
        next(&[VerificationFailed], b),
        Next::Attempt {
            number: 2,
            whole_file: false
        }
    );
    // A model chain tries again after nothing.
    assert_eq!(
        next(&[NoChange], budget(5)),
        Next::Attempt {
            number: 2,
            whole_file: false
        }
    );
}

#[test]
fn two_rejections_in_a_row_ask_for_a_whole_file() {
    assert_eq!(
        next(&[Rejected, Rejected], budget(5)),
        Next::Attempt {
            number: 3,
            whole_file: true
        }
    );
    assert_eq!(
        next(&[VerificationFailed, Rejected, Rejected], budget(5)),
        Next::Attempt {
            number: 4,
            whole_file: true
        }
    );
    // Not after one, nor when something else came between, nor for a duplicate.
    for history in [
        &[Rejected][..],
        &[Rejected, VerificationFailed],
        &[Rejected, Duplicate],
        &[Rejected, ProposerFailed],
    ] {
        assert_eq!(
            next(history, budget(5)),
            Next::Attempt {
                number: u32::try_from(history.len()).unwrap() + 1,
                whole_file: false
            },
            "{history:?}"
        );
    }
}

#[test]
fn max_attempts_is_the_limit() {
    let history = [VerificationFailed; 3];
    assert_eq!(next(&history, budget(3)), Next::Exhausted);
    assert_eq!(
        next(&history, budget(4)),
        Next::Attempt {
            number: 4,
            whole_file: false
        }
    );
}

#[test]
fn a_passing_baseline_is_already_passing() {
    let end = after_baseline(&[
        run("a", 0, Classification::Code),
        run("b", 0, Classification::Code),
    ])
    .unwrap();
    assert_eq!(end.status, Status::AlreadyPassing);
    assert_eq!(end.hint, None);
}

#[test]
fn an_infrastructure_failure_stops_with_its_hint() {
    let end = after_baseline(&[
        run("a", 1, Classification::Code),
        run("b", 127, infra("command_not_found")),
    ])
    .unwrap();
    assert_eq!(end.status, Status::InfraStop);
    assert_eq!(
        end.message,
        "target `b` failed for an infrastructure reason (command_not_found: it broke): line 1"
    );
    assert_eq!(end.hint.as_deref(), Some(infra_hint("command_not_found")));
}

#[test]
fn a_code_failure_goes_on_to_reproduction() {
    assert_eq!(
        after_baseline(&[
            run("a", 1, Classification::Code),
            run("b", 0, Classification::Code)
        ]),
        None
    );
}

#[test]
fn a_rerun_that_passes_is_not_reproducible() {
    let end = after_rerun(
        2,
        &[
            run("a", 1, Classification::Code),
            run("b", 0, Classification::Code),
        ],
    )
    .unwrap();
    assert_eq!(end.status, Status::NotReproducible);
    assert!(end.message.contains("target `b`") && end.message.contains("rerun 2"));
    assert_eq!(after_rerun(1, &[run("a", 1, Classification::Code)]), None);
}

#[test]
fn not_proven_says_what_to_configure() {
    let model = not_proven(3, true, true);
    assert_eq!(model.status, Status::NotProven);
    assert_eq!(
        model.message,
        "no candidate passed every proof target in 3 attempt(s)"
    );
    assert!(model.hint.unwrap().contains("--context"));
    assert!(
        not_proven(1, false, true)
            .hint
            .unwrap()
            .contains("suggestions")
    );
    assert!(
        not_proven(1, false, false)
            .hint
            .unwrap()
            .contains("no model is configured, so no fix was proposed")
    );
}

#[test]
fn every_infrastructure_rule_has_a_hint_of_its_own() {
    for rule in crate::context::INFRA_RULES {
        assert_ne!(
            infra_hint(rule.id),
            infra_hint("no such rule"),
            "rule {} has no hint",
            rule.id
        );
    }
}
