//! The session's events: what happened, as it happened, one typed [`Event`] per stage boundary.
//! [`Events`] is the one place they go through: each is stamped ([`EventLine`]: schema version,
//! sequence number, time, milliseconds since the session started), redacted like every other
//! bundle content, appended to the bundle's `events.jsonl`, written to the `--events` stream,
//! and handed to the progress display, in that order and under one lock, so all three see the
//! same lines in the same order. How progress looks is the display's (`cli::progress`); which
//! stage reports what is the stages'.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bundle::BundleWriter;
use crate::bundle::schema::{AttemptRecord, MinimizationRecord, RecordedStatus, RunSummary};
use crate::propose::search::Verdict;
use crate::redact::Redactor;

/// The `schema_version` of every event line (`docs/schemas/event.schema.json`).
pub const EVENT_SCHEMA: &str = "pp.event/v1";

/// One line of `events.jsonl` and of the `--events` stream.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EventLine {
    /// `pp.event/v1`.
    pub schema_version: String,
    /// 1 for the session's first event, then one more per event: a reader sees a gap.
    pub seq: u64,
    /// When the event happened (RFC 3339, UTC).
    pub ts: String,
    /// Milliseconds since the session started; never decreases.
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. `event` names the variant; its fields follow beside the envelope's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The session began; its bundle is `bundle`.
    SessionStart {
        session_id: String,
        provider: String,
        bundle: PathBuf,
    },
    /// A target's command is not allowed: nothing runs.
    PolicyViolation { refused: serde_json::Value },
    /// The container engine did not answer or could not start the image.
    ContainerUnavailable { error: String },
    /// The container engine answered; stale containers of crashed sessions were removed.
    ContainerEngine {
        engine: serde_json::Value,
        stale_removed: serde_json::Value,
    },
    /// The sandbox exists (`sandbox`: what `repro.json` records of it).
    SandboxCreated { sandbox: serde_json::Value },
    /// A proof target's command started.
    RunStart {
        #[serde(flatten)]
        phase: Phase,
        target: String,
        command: String,
        /// Where its stdout.log and stderr.log go.
        log_dir: PathBuf,
    },
    /// A proof target's command ended.
    RunEnd {
        #[serde(flatten)]
        phase: Phase,
        #[serde(flatten)]
        run: RunSummary,
    },
    /// Every target ran on the untouched sandbox.
    Baseline { runs: Vec<RunSummary> },
    /// Rerun `run` of the failing targets ended.
    Reproduce { run: u32, runs: Vec<RunSummary> },
    /// How the failing targets are narrowed to their failing tests (`policy.failing_first`):
    /// `enabled`, and per target the narrowed `command`, `runner` and `tests`, or `why_whole`.
    FailingFirst { selection: serde_json::Value },
    /// Attempt `attempt` asks the proposer chain (`provider`) for a candidate.
    Propose {
        attempt: u32,
        provider: String,
        /// The size of the prompt sent to a model, in bytes.
        prompt_bytes: usize,
    },
    /// The proposer answered (with a change or without).
    Proposal {
        attempt: u32,
        proposer: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        latency_ms: u64,
        reply_bytes: usize,
        /// Whether the reply holds a change.
        change: bool,
        /// Why it holds none.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The candidate was applied to the sandbox, or refused before (`rule`, `reason`).
    Apply {
        attempt: u32,
        applied: bool,
        changed_files: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The applied candidate is verified: every target runs.
    Verify {
        attempt: u32,
        changed_files: Vec<String>,
    },
    /// How an attempt ended (as `attempts/<n>/outcome.json`).
    Attempt(AttemptRecord),
    /// The `search` proposer starts its trials over `lines` ranked lines.
    Search {
        attempt: u32,
        lines: usize,
        spectrum: bool,
    },
    /// One of `search`'s trials: an edit applied, its tests run, undone.
    SearchTrial {
        attempt: u32,
        trial: u32,
        edit: String,
        verdict: Verdict,
        duration_ms: u64,
        /// The sandbox it ran in, when several try edits at once (`policy.parallelism`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sandbox: Option<u32>,
    },
    /// Candidate `candidate` of attempt `attempt` (one of several, `policy.candidates`) starts:
    /// it is checked, applied in sandbox `sandbox` (0 is the session's own) and verified; no
    /// sandbox when it was settled before (no change, not parsed, a duplicate).
    CandidateStart {
        attempt: u32,
        candidate: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        sandbox: Option<u32>,
    },
    /// What became of candidate `candidate` of attempt `attempt`.
    CandidateVerdict {
        attempt: u32,
        candidate: u32,
        verdict: CandidateVerdict,
        /// The rule that refused it, or what failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Lines it changes, when it parsed.
        #[serde(skip_serializing_if = "Option::is_none")]
        changed_lines: Option<usize>,
        duration_ms: u64,
    },
    /// Attempt `attempt`'s candidate passed: it is the winner.
    Winner { attempt: u32 },
    /// Minimization of the winner's `hunks` hunks starts.
    Minimize { attempt: u32, hunks: usize },
    /// What minimization kept.
    Minimized(MinimizationRecord),
    /// The bundle will be signed once `session_end` is written (the attestation covers
    /// `events.jsonl`, so nothing follows `session_end`).
    Signing { mode: String },
    /// `--apply` wrote the proven patch to the working tree.
    Applied { workspace: PathBuf },
    /// The session's last event.
    SessionEnd {
        status: RecordedStatus,
        success: bool,
        attempts_used: u32,
        applied: bool,
        /// The summary's sentence (`proven in attempt 1`, …).
        message: String,
    },
    /// The session stopped on an error (pp's or the machine's); no `session_end` follows.
    Error { message: String },
}

/// How one of several candidates of an attempt ended. Names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateVerdict {
    /// Every target passed, with the integrity checks: it may win.
    Passed,
    /// The baseline's failing tests, run alone, still fail; the full targets were not run.
    FailingStillFail,
    /// The full run (or a confirmation run) failed or broke the integrity rules.
    VerificationFailed,
    /// It did not parse, or the policy or the files refused it.
    Rejected,
    /// The same change as another candidate of this attempt, or as an earlier failed attempt.
    Duplicate,
    /// The reply held no change.
    NoChange,
}

/// Which stage ran a command, for `run_start` and `run_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// The baseline, on the untouched sandbox.
    Baseline,
    /// Rerun `run` of a failing target, to check the failure recurs.
    Reproduce { run: u32 },
    /// The failing tests of attempt `attempt`'s candidate, run alone before the full targets.
    VerifyFailing { attempt: u32 },
    /// The candidate of attempt `attempt`, verified.
    Verify { attempt: u32 },
    /// Confirmation run `run` of a passing candidate.
    Confirm { attempt: u32, run: u32 },
    /// Minimization run `run` of the winner.
    Minimize { attempt: u32, run: u32 },
    /// `search`'s traced run of the failing targets.
    SearchTrace { attempt: u32 },
    /// One of `search`'s trials: reported as `search_trial`, not run by run.
    SearchTrial { attempt: u32 },
    /// The runs of candidate `candidate` of attempt `attempt`, one of several verified at
    /// once: reported as `candidate_start` and `candidate_verdict`, not run by run.
    Candidate { attempt: u32, candidate: u32 },
    /// `pp replay`'s runs.
    Replay,
}

impl Phase {
    /// Whether its runs are reported one by one (`run_start`, `run_end`).
    pub fn reported(self) -> bool {
        !matches!(self, Self::SearchTrial { .. } | Self::Candidate { .. })
    }
}

/// What the session is waiting for, when a heartbeat says it still is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy<'a> {
    /// A target's command.
    Run { phase: Phase, target: &'a str },
    /// The proposer chain of attempt `attempt` (a model, a program, `search`'s trials).
    Propose { attempt: u32, provider: &'a str },
}

/// What watches the session besides its bundle: the `--events` stream and the progress display.
#[derive(Default)]
pub struct Watchers {
    /// `--events FILE|-`: one JSON line per event.
    pub stream: Option<Box<dyn Write + Send>>,
    pub progress: Option<Box<dyn Progress>>,
}

/// A live view of the session (stderr's progress lines or spinner).
pub trait Progress: Send {
    /// Each event, as recorded.
    fn event(&mut self, line: &EventLine);
    /// The session has waited `running` for `busy`, `elapsed` into the session.
    fn heartbeat(&mut self, busy: Busy<'_>, running: Duration, elapsed: Duration);
    /// How often `heartbeat` is wanted while the session waits; `None`: never.
    fn heartbeat_every(&self) -> Option<Duration>;
}

/// The session's event sink; cheap to clone, shared by the stages and the command runner.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Mutex<Inner>>,
    heartbeat: Option<Duration>,
}

struct Inner {
    bundle: BundleWriter,
    clock: Instant,
    seq: u64,
    redactor: Redactor,
    watchers: Watchers,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// A sink for the bundle `bundle`, its session started at `clock`; secrets are the values
    /// `redactor` knows.
    pub fn new(
        bundle: BundleWriter,
        clock: Instant,
        redactor: Redactor,
        watchers: Watchers,
    ) -> Self {
        let heartbeat = watchers.progress.as_ref().and_then(|p| p.heartbeat_every());
        Self {
            inner: Arc::new(Mutex::new(Inner {
                bundle,
                clock,
                seq: 0,
                redactor,
                watchers,
            })),
            heartbeat,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the data as good as it was.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `event`: stamped, redacted, to `events.jsonl`, the stream and the display.
    pub fn emit(&self, event: Event) {
        let mut inner = self.lock();
        inner.seq += 1;
        let line = EventLine {
            schema_version: EVENT_SCHEMA.into(),
            seq: inner.seq,
            ts: jiff::Timestamp::now().to_string(),
            elapsed_ms: u64::try_from(inner.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            event,
        };
        let mut value = match serde_json::to_value(&line) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("failed to encode an event: {e}");
                return;
            }
        };
        inner.redactor.redact_json(&mut value);
        let mut text = value.to_string();
        text.push('\n');
        inner.bundle.append_event(&text);
        if let Some(stream) = inner.watchers.stream.as_mut()
            && let Err(e) = stream
                .write_all(text.as_bytes())
                .and_then(|()| stream.flush())
        {
            // A reader that went away stops the stream, not the session.
            tracing::warn!("--events: stopped writing events: {e}");
            inner.watchers.stream = None;
        }
        if let Some(progress) = inner.watchers.progress.as_mut() {
            // The display sees what was recorded: the redacted line, read back.
            match serde_json::from_value::<EventLine>(value) {
                Ok(shown) => progress.event(&shown),
                Err(e) => tracing::debug!("an event the display cannot read back: {e}"),
            }
        }
    }

    /// Awaits `work`, telling the display every so often that the session still waits for
    /// `busy` (never recorded): the one place a command or a proposer is waited for, so a slow
    /// one is never silent.
    pub async fn while_busy<F: Future>(&self, busy: Busy<'_>, work: F) -> F::Output {
        let Some(every) = self.heartbeat else {
            return work.await;
        };
        tokio::pin!(work);
        let started = tokio::time::Instant::now();
        let mut ticks = tokio::time::interval_at(started + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = ticks.tick() => {
                    let mut inner = self.lock();
                    let elapsed = inner.clock.elapsed();
                    if let Some(p) = inner.watchers.progress.as_mut() {
                        p.heartbeat(busy, started.elapsed(), elapsed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Clone)]
    struct Seen(
        Arc<Mutex<Vec<EventLine>>>,
        Arc<std::sync::atomic::AtomicUsize>,
    );

    impl Progress for Seen {
        fn event(&mut self, line: &EventLine) {
            self.0.lock().unwrap().push(line.clone());
        }
        fn heartbeat(&mut self, busy: Busy<'_>, _: Duration, _: Duration) {
            assert_eq!(
                busy,
                Busy::Propose {
                    attempt: 1,
                    provider: "p"
                }
            );
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn heartbeat_every(&self) -> Option<Duration> {
            Some(Duration::from_millis(20))
        }
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_event_reaches_the_bundle_the_stream_and_the_display_alike_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = BundleWriter::create(dir.path().to_owned()).unwrap();
        let (seen, buf) = (Seen::default(), Buf::default());
        let secret = "s3cr3t-value-of-the-token-0123456789";
        let events = Events::new(
            bundle,
            Instant::now(),
            Redactor::from_env_vars([("MY_API_TOKEN".to_owned(), secret.to_owned())]),
            Watchers {
                stream: Some(Box::new(buf.clone())),
                progress: Some(Box::new(seen.clone())),
            },
        );
        events.emit(Event::Winner { attempt: 2 });
        events.emit(Event::Error {
            message: format!("boom {secret}"),
        });
        let file = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
        let stream = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(file, stream);
        assert!(!file.contains(secret), "{file}");
        let lines: Vec<serde_json::Value> = file
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "winner");
        assert_eq!(lines[0]["attempt"], 2);
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[0]["schema_version"], EVENT_SCHEMA);
        assert_eq!(lines[1]["seq"], 2);
        let shown = seen.0.lock().unwrap();
        match &shown[1].event {
            Event::Error { message } => assert!(!message.contains(secret), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn waiting_for_slow_work_beats_and_returns_its_result() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Seen::default();
        let events = Events::new(
            BundleWriter::create(dir.path().to_owned()).unwrap(),
            Instant::now(),
            Redactor::default(),
            Watchers {
                stream: None,
                progress: Some(Box::new(seen.clone())),
            },
        );
        let busy = Busy::Propose {
            attempt: 1,
            provider: "p",
        };
        // The work ends once the display has had two heartbeats: it never would without them.
        let beats = seen.1.clone();
        let out = events
            .while_busy(busy, async {
                while beats.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                7
            })
            .await;
        assert_eq!(out, 7);
        // Nothing of it is recorded.
        assert!(!dir.path().join("events.jsonl").exists());
    }

    #[test]
    fn a_run_event_carries_its_phase_and_summary_beside_the_envelope() {
        let line = EventLine {
            schema_version: EVENT_SCHEMA.into(),
            seq: 3,
            ts: "t".into(),
            elapsed_ms: 5,
            event: Event::RunEnd {
                phase: Phase::Verify { attempt: 1 },
                run: RunSummary {
                    target: "default".into(),
                    exit_code: 0,
                    ..RunSummary::default()
                },
            },
        };
        let v = serde_json::to_value(&line).unwrap();
        assert_eq!(v["event"], "run_end");
        assert_eq!(v["phase"], "verify");
        assert_eq!(v["attempt"], 1);
        assert_eq!(v["target"], "default");
        assert_eq!(v["exit_code"], 0);
        // The display reads the redacted line back.
        let back: EventLine = serde_json::from_value(v).unwrap();
        assert!(matches!(
            back.event,
            Event::RunEnd {
                phase: Phase::Verify { attempt: 1 },
                ..
            }
        ));
    }
}
