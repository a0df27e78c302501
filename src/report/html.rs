//! `pp show --html`: one self-contained HTML page of a [`ShowReport`]: inline CSS, no script,
//! no font, no request of any kind (a Content-Security-Policy of `default-src 'none'` says so to
//! the browser too). Every value comes from a bundle, which is hostile input, so the page is
//! built with `maud`: a spliced value is HTML-escaped unless the code says `PreEscaped`, which
//! only the fixed stylesheet does. Forgetting to escape is then impossible rather than unlikely,
//! as it would be with hand-written `format!` and an escaping call at each splice.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::show::{ShowReport, ShowTarget, attestation_line, outcome_words};
use crate::bundle::schema::{AttemptKind, RunSummary};

const CSS: &str = r#"
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --mute: #57606a; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600; }
.status.ok { background: var(--ok); } .status.bad { background: var(--bad); } .status.warn { background: var(--warn); }
.meta { color: var(--mute); } code, pre { font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.pass { color: var(--ok); font-weight: 600; } td.fail { color: var(--bad); font-weight: 600; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
pre.diff { padding: 8px 0; } pre.diff span { display: block; padding: 0 12px; }
.add { background: #dafbe1; color: #116329; } .del { background: #ffebe9; color: #82071e; }
.hunk { background: #ddf4ff; color: #0550ae; } .file { font-weight: 700; color: #1f2328; }
ol.timeline { list-style: none; padding: 0; } ol.timeline li { border-left: 4px solid #d0d7de; margin: 0 0 12px; padding: 4px 12px; }
ol.timeline li.passed { border-color: var(--ok); } ol.timeline li.failed { border-color: var(--bad); }
.trust.ok { color: var(--ok); font-weight: 600; } .trust.bad { color: var(--bad); font-weight: 600; }
"#;

/// The page for `r`.
pub fn render(r: &ShowReport) -> String {
    let status_class = match r.status.as_str() {
        "proven" | "already_passing" => "ok",
        "running" | "interrupted" | "not_reproducible" => "warn",
        _ => "bad",
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "pp proof: " (r.status) " — " (r.session_id) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "pp proof bundle " code { (r.session_id) } }
                    p {
                        span id="status" class={ "status " (status_class) } { (r.status) }
                        @if !r.complete { " " span class="meta" { "(the session did not finish)" } }
                        " " (r.message)
                    }
                    @if let Some(h) = &r.hint { p { strong { "Hint: " } (h) } }
                    p class="meta" {
                        @if let Some(c) = &r.command { "Command: " code { (c) } " · " }
                        "Proposer: " (r.provider) " · Attempts used: " (r.attempts_used)
                        " · Started " (r.started_at) " · " (format_ms(r.duration_ms))
                    }
                    p class="meta" { "Bundle: " code { (r.bundle.display()) } }
                }
                section id="verification" {
                    h2 { "Verification" }
                    table {
                        thead { tr {
                            th { "target" } th { "command" }
                            th { "before: exit" } th { "before: tests" }
                            th { "after: exit" } th { "after: tests" }
                        } }
                        tbody { @for t in &r.targets { (target_row(t)) } }
                    }
                }
                section id="patch" {
                    h2 { "Final patch" }
                    @if !r.changed_files.is_empty() {
                        p { "Files: " @for (i, f) in r.changed_files.iter().enumerate() {
                            @if i > 0 { ", " } code { (f) }
                        } }
                    }
                    @match &r.final_patch {
                        Some(p) if !p.is_empty() => {
                            (diff(p))
                            @if r.final_patch_truncated { p class="meta" { "(final.patch is longer; the rest is not shown)" } }
                        }
                        _ => { p { "No patch: no candidate was accepted." } }
                    }
                }
                section id="attempts" {
                    h2 { "Attempts" }
                    @if r.attempts.is_empty() { p { "No attempt was made." } }
                    ol class="timeline" {
                        @for a in &r.attempts {
                            li class=(if a.outcome == AttemptKind::Passed { "passed" } else { "failed" }) {
                                strong { "Attempt " (a.attempt) ": " (outcome_words(a.outcome)) }
                                @if let Some(p) = &a.proposer { span class="meta" { " (proposer " (p) ")" } }
                                @if let Some(rule) = &a.rule { " " span class="meta" { "rule: " code { (rule) } } }
                                pre class="reason" { (a.reason) }
                                @if let Some(c) = &a.candidate {
                                    @if a.outcome != AttemptKind::Passed {
                                        details {
                                            summary { "Candidate diff" }
                                            (diff(c))
                                            @if a.candidate_truncated { p class="meta" { "(cut: the candidate is longer)" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                section id="attestation" {
                    h2 { "Attestation" }
                    p class={ "trust " (if r.attestation.verified { "ok" } else { "bad" }) } {
                        (attestation_line(&r.attestation))
                    }
                    @for n in &r.attestation.notes { p class="meta" { "Note: " (n) } }
                    p class="meta" { "Checked with the keys of whoever ran " code { "pp show" } " (the HMAC key in the environment, " code { "--public-key" } " files); the bundle's word is never taken for it." }
                }
                section id="replay" {
                    h2 { "Replay" }
                    pre { @for c in &r.replay { (c) "\n" } }
                }
            }
        }
    };
    page.into_string()
}

fn target_row(t: &ShowTarget) -> Markup {
    html! {
        tr {
            td { (t.name) } td { code { (t.command) } }
            (exit_cell(t.before.as_ref())) td { (tests(t.before.as_ref())) }
            (exit_cell(t.after.as_ref())) td { (tests(t.after.as_ref())) }
        }
    }
}

fn exit_cell(run: Option<&RunSummary>) -> Markup {
    match run {
        None => html! { td { "—" } },
        Some(r) => html! {
            td class=(if r.exit_code == 0 { "pass" } else { "fail" }) {
                (r.exit_code) @if r.timed_out { " (timed out)" }
            }
        },
    }
}

fn tests(run: Option<&RunSummary>) -> String {
    match run.and_then(|r| r.tests.as_ref()) {
        Some(t) => format!("{} ran, {} passed, {} failed", t.ran, t.passed, t.failed),
        None => "—".to_owned(),
    }
}

/// A unified diff, one span per line, classed by kind.
fn diff(text: &str) -> Markup {
    html! {
        pre class="diff" {
            @for line in text.lines() { span class=(line_class(line)) { (line) "\n" } }
        }
    }
}

fn line_class(line: &str) -> &'static str {
    if line.starts_with("diff ")
        || line.starts_with("+++ ")
        || line.starts_with("--- ")
        || line.starts_with("index ")
    {
        "file"
    } else if line.starts_with("@@") {
        "hunk"
    } else if line.starts_with('+') {
        "add"
    } else if line.starts_with('-') {
        "del"
    } else {
        "ctx"
    }
}

fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::show::{ShowAttempt, ShowAttestation};

    fn report(patch: &str, reason: &str) -> ShowReport {
        ShowReport {
            schema_version: crate::report::show::SHOW_SCHEMA,
            success: true,
            bundle: "/b".into(),
            session_id: "s<1>".into(),
            status: "proven".into(),
            session_success: true,
            complete: true,
            message: "proven in attempt 2".into(),
            hint: None,
            command: Some("echo '<b>'".into()),
            provider: "command".into(),
            started_at: String::new(),
            duration_ms: 1500,
            attempts_used: 2,
            targets: Vec::new(),
            attempts: vec![ShowAttempt {
                attempt: 1,
                outcome: AttemptKind::VerificationFailed,
                rule: None,
                proposer: None,
                reason: reason.into(),
                candidate: Some(patch.into()),
                candidate_truncated: false,
            }],
            changed_files: vec!["v.txt".into()],
            final_patch: Some(patch.into()),
            final_patch_truncated: false,
            attestation: ShowAttestation::default(),
            replay: vec!["pp replay /b".into()],
        }
    }

    #[test]
    fn bundle_text_is_escaped_and_the_page_has_no_script() {
        let page = render(&report(
            "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+<script>alert(1)</script>\n",
            "output: </pre><img src=x onerror=alert(2)>",
        ));
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains(r#"<span class="add">+&lt;script&gt;alert(1)&lt;/script&gt;"#));
        assert!(page.contains("&lt;/pre&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(page.contains("s&lt;1&gt;") && page.contains("echo '&lt;b&gt;'"));
        // Nothing the page could fetch.
        for needle in ["http://", "https://", "src=\"", "href=", "@import", "url("] {
            assert!(!page.contains(needle), "{needle} in the page");
        }
    }

    #[test]
    fn diff_lines_are_classed() {
        let classes: Vec<&str> = [
            "diff --git a/x b/x",
            "--- a/x",
            "+++ b/x",
            "@@ -1 +1 @@",
            "-a",
            "+b",
            " c",
        ]
        .iter()
        .map(|l| line_class(l))
        .collect();
        assert_eq!(
            classes,
            ["file", "file", "file", "hunk", "del", "add", "ctx"]
        );
    }
}
