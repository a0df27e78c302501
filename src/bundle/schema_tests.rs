use super::*;

/// Times, digests and temporary paths vary run to run; the snapshots show their shape.
fn redacted(v: &impl Serialize) -> String {
    let text = serde_json::to_string_pretty(v).unwrap();
    let filters = [
        (r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "[time]"),
        (r"[0-9a-f]{64}", "[sha256]"),
        (r"sha256:\[sha256\]", "[image-id]"),
        (r"/tmp/[^\x22]*", "[path]"),
    ];
    filters.iter().fold(text, |t, (re, rep)| {
        regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, *rep)
            .into_owned()
    })
}

fn digest(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn run(target: &str, exit_code: i32) -> RunSummary {
    RunSummary {
        target: target.into(),
        exit_code,
        timed_out: false,
        duration_ms: 120,
        tests: Some(TestSummary {
            passed: 3,
            format: "libtest".into(),
            ran: 3,
            failed: u32::from(exit_code != 0),
            ..TestSummary::default()
        }),
    }
}

fn attempt(n: u32, outcome: AttemptKind, rule: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        attempt: n,
        outcome,
        rule: rule.map(str::to_owned),
        feedback: "what the next attempt is told".into(),
        proposer: Some("command".into()),
        diff_sha256: Some(digest('d')),
    }
}

fn confined() -> IsolationRecord {
    IsolationRecord {
        network: IsolationNetwork::Deny,
        applied: Applied::NetworkNamespace,
        loopback: Some(Loopback::Up),
        confinement: Some(serde_json::json!({"engine": "bubblewrap", "pid_namespace": true})),
        ..IsolationRecord::default()
    }
}

fn container() -> IsolationRecord {
    IsolationRecord {
        network: IsolationNetwork::Deny,
        applied: Applied::Container,
        container_network: Some("none".into()),
        runtime: Some("docker".into()),
        image: Some("python:3.11-slim".into()),
        image_id: Some(format!("sha256:{}", digest('c'))),
        ..IsolationRecord::default()
    }
}

fn proven_repro() -> Repro {
    let source = SourceInfo {
        workspace: "/tmp/ws".into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        git_branch: Some("main".into()),
        git_remote_url: None,
        git_dirty: false,
        dirty_diff_sha256: None,
        untracked_sha256: None,
        git_subdir: Some(String::new()),
    };
    Repro {
        schema_version: REPRO_SCHEMA.into(),
        complete: true,
        session_id: "20260101T000000Z-0a1b2c3d".into(),
        status: RecordedStatus::Proven,
        success: true,
        command: Some("cargo test".into()),
        targets: vec![ReproTarget {
            name: "default".into(),
            cmd: Some("cargo test".into()),
            argv: None,
        }],
        policy_path: Some("/tmp/ws/pp.yaml".into()),
        policy_sha256: Some(digest('a')),
        provider: "command".into(),
        provider_chain: vec!["command".into()],
        endpoints: Endpoints::default(),
        proposer: Some("command".into()),
        model: None,
        pp_version: "0.1.0".into(),
        timings: Timings {
            started_at: "2026-01-01T00:00:00.5Z".into(),
            finished_at: Some("2026-01-01T00:00:09.25Z".into()),
            duration_ms: 8750,
            manifest_ms: Some(3.5),
            sandbox_setup_ms: Some(12.0),
            sandbox_teardown_ms: Some(1.5),
        },
        sandbox: Some(serde_json::json!({"backend": "copy", "root": "/tmp/sb"})),
        isolation: confined(),
        git_commit: source.git_commit.clone(),
        git_branch: source.git_branch.clone(),
        git_remote_url: None,
        git_dirty: false,
        source,
        workspace_manifest_sha256: Some(digest('b')),
        runtime: Runtime {
            os: "linux".into(),
            arch: "x86_64".into(),
            ..Runtime::default()
        },
        container: None,
        classification: Some(Classification::Code),
        baseline: vec![run("default", 101)],
        attempts: vec![
            attempt(1, AttemptKind::Rejected, Some("deny_write")),
            attempt(2, AttemptKind::Passed, None),
        ],
        minimization: Some(MinimizationRecord {
            hunks_before: 2,
            hunks_after: 1,
            kept: vec![1],
            runs: vec![MinimizeRunRecord {
                subset: vec![1],
                passed: true,
            }],
            max_runs: 16,
            exhausted: false,
            lines: Some(LineMinimizationRecord {
                units_before: 3,
                units_after: 1,
                kept: vec![2],
                runs: vec![MinimizeRunRecord {
                    subset: vec![2],
                    passed: true,
                }],
                exhausted: false,
            }),
            patch_bytes_before: 420,
            patch_bytes_after: 96,
        }),
        result: Some(ReproResult {
            status: RecordedStatus::Proven,
            attempts_used: 2,
            final_exit_code: Some(0),
            final_patch_sha256: Some(digest('e')),
            changed_files: vec!["src/lib.rs".into()],
            applied: false,
            apply_refused: None,
            message: "proven in attempt 2".into(),
            hint: None,
            final_runs: vec![run("default", 0)],
        }),
    }
}

#[test]
fn repro_json() {
    insta::assert_snapshot!(redacted(&proven_repro()));
}

#[test]
fn repro_json_while_running() {
    let running = Repro {
        schema_version: REPRO_SCHEMA.into(),
        session_id: "20260101T000000Z-0a1b2c3d".into(),
        provider: "stub".into(),
        provider_chain: vec!["stub".into()],
        pp_version: "0.1.0".into(),
        timings: Timings {
            started_at: "2026-01-01T00:00:00Z".into(),
            ..Timings::default()
        },
        ..Repro::default()
    };
    insta::assert_snapshot!(redacted(&running));
}

#[test]
fn repro_json_reads_back_and_leniently() {
    let repro = proven_repro();
    let text = serde_json::to_string(&repro).unwrap();
    assert_eq!(serde_json::from_str::<Repro>(&text).unwrap(), repro);
    // An older bundle: fields missing, a container without an image id.
    let old: Repro = serde_json::from_str(
        r#"{"status": "proven", "container": {"runtime": "docker", "image_id": null}}"#,
    )
    .unwrap();
    assert_eq!(old.status, RecordedStatus::Proven);
    assert_eq!(old.container.unwrap().image_id, None);
    assert!(old.targets.is_empty());
    // Parts replay does not need may hold what this version does not know.
    let other: Repro = serde_json::from_str(
        r#"{"status": "proven", "isolation": {"applied": "something_new"}, "attempts": [{"outcome": "new_kind"}]}"#,
    )
    .unwrap();
    assert_eq!(other.isolation, IsolationRecord::default());
    assert!(other.attempts.is_empty());
}

#[test]
fn environment_json() {
    let env = Environment {
        schema_version: ENVIRONMENT_SCHEMA.into(),
        pp_version: "0.1.0".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        kernel: Some("6.1.0".into()),
        git_version: Some("git version 2.39.5".into()),
        sandbox: Some(serde_json::json!({"backend": "copy", "root": "/tmp/sb"})),
        isolation: container(),
        container: Some(ContainerRecord {
            runtime: "docker".into(),
            client_version: "Docker version 26.1.5".into(),
            server_version: "26.1.5".into(),
            image: "python:3.11-slim".into(),
            image_id: Some(format!("sha256:{}", digest('c'))),
        }),
        env_passed: vec!["HOME".into(), "PATH".into()],
        env_passed_into_container: Some(vec!["HOME".into()]),
        env_withheld: vec!["PP_ATTEST_HMAC_KEY".into()],
    };
    insta::assert_snapshot!(redacted(&env));
}

#[test]
fn attempt_records() {
    let records: Vec<AttemptRecord> = [
        (AttemptKind::ProposerUnusable, None),
        (AttemptKind::ProposerFailed, None),
        (AttemptKind::NoChange, None),
        (AttemptKind::Rejected, Some("path_not_allowed")),
        (AttemptKind::Duplicate, Some("duplicate")),
        (AttemptKind::VerificationFailed, None),
        (AttemptKind::Passed, None),
    ]
    .into_iter()
    .zip(1..)
    .map(|((kind, rule), n)| attempt(n, kind, rule))
    .collect();
    insta::assert_snapshot!(redacted(&records));
}

#[test]
fn isolation_records() {
    let records = [
        IsolationRecord::unknown(),
        IsolationRecord::unavailable(IsolationNetwork::Deny, "bubblewrap is not installed"),
        confined(),
        IsolationRecord {
            network: IsolationNetwork::Allow,
            applied: Applied::None,
            loopback: Some(Loopback::Host),
            filesystem: Some(
                "overlay mounted at the workspace path in a private mount namespace".into(),
            ),
            ..confined()
        },
        container(),
    ];
    insta::assert_snapshot!(redacted(&records));
}

#[test]
fn replay_statuses() {
    let all = [
        ReplayStatus::Replayed,
        ReplayStatus::Failed,
        ReplayStatus::DifferentSource,
        ReplayStatus::PatchFailed,
        ReplayStatus::NoProof,
        ReplayStatus::InfraStop,
        ReplayStatus::AttestationFailed,
    ];
    for s in all {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    insta::assert_snapshot!(redacted(&all));
}

#[test]
fn recorded_statuses_name_themselves() {
    for s in [
        RecordedStatus::Running,
        RecordedStatus::Proven,
        RecordedStatus::AlreadyPassing,
        RecordedStatus::NotProven,
        RecordedStatus::PolicyViolation,
        RecordedStatus::InfraStop,
        RecordedStatus::NotReproducible,
        RecordedStatus::Interrupted,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}
