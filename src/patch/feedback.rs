//! Turning a rejection into the message sent with the next request: which file and hunk, why,
//! the nearest real lines with their numbers, and what to do instead.

use std::fmt::Write as _;

use super::error::Rejection;

impl Rejection {
    /// A precise, self-contained message for the proposer's next attempt.
    pub fn feedback(&self) -> String {
        let mut out = format!(
            "The previous patch was rejected ({}): {}\n",
            self.rule.as_str(),
            self.message
        );
        if let Some(path) = &self.path {
            let _ = writeln!(out, "File: {path}");
        }
        if let Some(h) = &self.hunk {
            let _ = writeln!(
                out,
                "Hunk: #{} `{}` (line {} of your reply)",
                h.index, h.header, h.diff_line
            );
        } else if let Some(line) = self.diff_line {
            let _ = writeln!(out, "Line {line} of your reply.");
        }
        if !self.nearest.is_empty() {
            let what = self.path.as_deref().unwrap_or("the file");
            let _ = writeln!(out, "Nearest lines in {what} as it is now:");
            let width = self
                .nearest
                .iter()
                .map(|l| l.line.to_string().len())
                .max()
                .unwrap_or(1);
            for l in &self.nearest {
                let _ = writeln!(out, "{:>width$} | {}", l.line, l.text);
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "Hint: {hint}");
        }
        out.push_str("Send a complete unified diff against the original files (not against your previous attempt).\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::error::{HunkLocation, NearLine, Rejection, Rule};

    #[test]
    fn feedback_names_file_hunk_reason_and_numbered_lines() {
        let mut r = Rejection::at_path(
            Rule::ContextNotFound,
            "src/a.py",
            "`src/a.py`: hunk 2 does not match",
        )
        .with_hunk(HunkLocation {
            index: 2,
            header: "@@ -9,3 +9,4 @@".into(),
            diff_line: 14,
        })
        .with_hint("copy the lines exactly");
        r.nearest = vec![
            NearLine {
                line: 9,
                text: "def f():".into(),
            },
            NearLine {
                line: 10,
                text: "    return 1".into(),
            },
        ];
        let text = r.feedback();
        assert!(text.contains("(context_not_found)"), "{text}");
        assert!(text.contains("File: src/a.py"), "{text}");
        assert!(
            text.contains("Hunk: #2 `@@ -9,3 +9,4 @@` (line 14 of your reply)"),
            "{text}"
        );
        assert!(text.contains(" 9 | def f():"), "{text}");
        assert!(text.contains("10 |     return 1"), "{text}");
        assert!(text.contains("Hint: copy the lines exactly"), "{text}");
        assert_eq!(r.rule(), "context_not_found");
    }
}
