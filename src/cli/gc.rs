//! `pp gc [--keep N] [--older-than D] [--dry-run]`: removes old session folders under the
//! repository's `.pp-artifacts/`. Only session folders go (`bundle::sessions` says what one is:
//! a symlink never is); the digest cache, `.gitignore` and anything else stay. A session still
//! running is kept whatever the rule says.

use std::time::{Duration, SystemTime};

use super::args::GcArgs;
use super::output;
use crate::bundle::schema::{RecordedStatus, Repro};
use crate::bundle::sessions::{self, GcRule, SessionDir};
use crate::console::{errln, outln};
use crate::error::Error;
use crate::report::{GC_SCHEMA, GcDocument as GcDoc, GcRemoved as Removed};

/// Sessions kept when `--keep` is not given.
const DEFAULT_KEEP: usize = 10;
/// A session recorded as `running` whose `repro.json` changed more recently than this may be
/// alive; older ones crashed and may go.
const RUNNING_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Parses `--older-than`: a duration like `7d`, `12h`, `30m`, `1w 2d`.
pub(super) fn parse_age(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("`{s}` is not a duration ({e}); write a number and a unit, e.g. 7d, 12h or 30m")
    })
}

/// `pp gc`.
pub(super) fn gc(a: GcArgs) -> Result<u8, Error> {
    let cwd = output::workspace()?;
    let keep = a.keep.unwrap_or(DEFAULT_KEEP);
    let mut doc = GcDoc {
        schema_version: GC_SCHEMA,
        success: true,
        artifacts: None,
        dry_run: a.dry_run,
        keep,
        older_than_secs: a.older_than.map(|d| d.as_secs()),
        removed: Vec::new(),
        kept: Vec::new(),
        running: Vec::new(),
        freed_bytes: 0,
        errors: Vec::new(),
    };
    let Some(artifacts) = sessions::find_artifacts(&cwd) else {
        errln!("nothing to prune: no .pp-artifacts folder here");
        return finish(&doc, a.json);
    };
    let list = sessions::list_sessions(&artifacts).map_err(|e| Error::Io {
        what: format!("list {}", artifacts.display()),
        source: e,
    })?;
    doc.artifacts = Some(artifacts);
    let now = SystemTime::now();
    let rule = GcRule {
        keep,
        older_than: a.older_than,
    };
    let (remove, kept) = sessions::plan_gc(list, rule, now);
    doc.kept = kept.into_iter().map(|s| s.id).collect();
    for s in remove {
        if may_be_running(&s, now) {
            doc.running.push(s.id);
            continue;
        }
        let bytes = sessions::disk_usage(&s.path);
        let age_secs = now
            .duration_since(s.started)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if !a.dry_run {
            // Checked again just before: the folder must still be a real one. `remove_dir_all`
            // removes links inside as links, never what they point to.
            let real = std::fs::symlink_metadata(&s.path).is_ok_and(|m| m.file_type().is_dir());
            if !real {
                doc.errors.push(format!(
                    "{}: no longer a session folder; left alone",
                    s.path.display()
                ));
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(&s.path) {
                doc.errors.push(format!("{}: {e}", s.path.display()));
                continue;
            }
        }
        doc.freed_bytes += bytes;
        doc.removed.push(Removed {
            session_id: s.id,
            path: s.path,
            bytes,
            age_secs,
        });
    }
    doc.success = doc.errors.is_empty();
    finish(&doc, a.json)
}

/// A session recorded as `running` and touched recently may belong to a pp still at work.
fn may_be_running(s: &SessionDir, now: SystemTime) -> bool {
    let repro_path = s.bundle().join("repro.json");
    let Ok(text) = crate::beneath::read_to_string(&s.bundle(), "repro.json".as_ref(), 16 << 20)
    else {
        return false;
    };
    let running =
        serde_json::from_str::<Repro>(&text).is_ok_and(|r| r.status == RecordedStatus::Running);
    let recent = std::fs::symlink_metadata(&repro_path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| now.duration_since(t).map_or(true, |d| d < RUNNING_GRACE));
    running && recent
}

fn finish(doc: &GcDoc, json: bool) -> Result<u8, Error> {
    let verb = if doc.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for id in &doc.running {
        errln!("kept {id}: it may still be running");
    }
    for e in &doc.errors {
        errln!("error: {e}");
    }
    if json {
        output::print_json(doc)?;
    } else {
        for r in &doc.removed {
            outln!(
                "{verb} {} ({}, {} old)",
                r.session_id,
                human_bytes(r.bytes),
                humantime::format_duration(Duration::from_secs(r.age_secs))
            )?;
        }
        outln!(
            "{verb} {} session{}, {}; kept {}",
            doc.removed.len(),
            if doc.removed.len() == 1 { "" } else { "s" },
            human_bytes(doc.freed_bytes),
            doc.kept.len() + doc.running.len()
        )?;
    }
    Ok(if doc.success {
        0
    } else {
        crate::error::EXIT_INTERNAL
    })
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_or_say_how_to_write_them() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        let e = parse_age("soon").unwrap_err();
        assert!(e.contains("`soon`") && e.contains("7d"), "{e}");
        assert!(parse_age("7").is_err());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
