//! Sanitizing a proposer's reply into diff lines: strips markdown fences and the prose around
//! them, CRLF terminators and a BOM, and keeps each line's number in the reply so parse errors
//! can point at it. It does not decide what is a diff line; `parse.rs` does.

/// One line of the reply, without its terminator (`\n` or `\r\n`; every trailing `\r` goes, so
/// a rendering always parses back to itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// 1-based line number in the reply.
    pub no: usize,
    /// The text.
    pub text: &'a str,
}

/// Splits the reply into lines and keeps only the fenced blocks that hold a diff, if any do.
///
/// Fences count only at column 0 (```` ``` ```` or `~~~`): an indented fence could be a context
/// line of a Markdown file being patched. Without a fenced diff the whole reply is returned and
/// the parser skips prose between file entries.
pub fn sanitize(reply: &str) -> Vec<ReplyLine<'_>> {
    let reply = reply.strip_prefix('\u{feff}').unwrap_or(reply);
    let mut lines: Vec<ReplyLine<'_>> = reply
        .split('\n')
        .enumerate()
        .map(|(i, text)| ReplyLine {
            no: i + 1,
            // A CR before LF is transport noise: hunks match files line-ending-agnostically
            // and inserted lines take the target file's own line ending.
            text: text.trim_end_matches('\r'),
        })
        .collect();
    if reply.ends_with('\n') {
        lines.pop();
    }
    let blocks = fenced_blocks(&lines);
    // Blocks with file headers win; a block with only `@@` lines is used when nothing better
    // exists, so a hunk-only fragment is reported as such rather than as "no diff".
    let pick = |test: fn(&str) -> bool| -> Vec<&[ReplyLine<'_>]> {
        blocks
            .iter()
            .map(|r| &lines[r.clone()])
            .filter(|block| block.iter().any(|l| test(l.text)))
            .collect()
    };
    let mut diff_blocks = pick(has_file_header);
    if diff_blocks.is_empty() {
        diff_blocks = pick(|t| t.starts_with("@@ "));
    }
    if diff_blocks.is_empty() {
        return lines;
    }
    diff_blocks.concat()
}

fn fence_marker(text: &str) -> Option<&'static str> {
    if text.starts_with("```") {
        Some("```")
    } else if text.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

/// Ranges of lines inside fences (fence lines excluded). An unclosed fence runs to the end,
/// as a truncated reply would.
fn fenced_blocks(lines: &[ReplyLine<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    for (i, line) in lines.iter().enumerate() {
        match open {
            None => {
                if let Some(marker) = fence_marker(line.text) {
                    open = Some((i + 1, marker));
                }
            }
            Some((start, marker)) => {
                let t = line.text.trim_end();
                if t.starts_with(marker)
                    && t.trim_start_matches(marker.as_bytes()[0] as char)
                        .is_empty()
                {
                    blocks.push(start..i);
                    open = None;
                }
            }
        }
    }
    if let Some((start, _)) = open {
        blocks.push(start..lines.len());
    }
    blocks
}

fn has_file_header(text: &str) -> bool {
    text.starts_with("diff --git ") || text.starts_with("--- ") || text.starts_with("+++ ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(reply: &str) -> Vec<(usize, String)> {
        sanitize(reply)
            .into_iter()
            .map(|l| (l.no, l.text.to_owned()))
            .collect()
    }

    #[test]
    fn keeps_only_fenced_diff_blocks_with_reply_line_numbers() {
        let reply = "Here is the fix:\n```python\nprint(1)\n```\n```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```\nThanks\n";
        let got = texts(reply);
        assert_eq!(got.first(), Some(&(6, "--- a/x".to_owned())));
        assert_eq!(got.len(), 5);
        assert_eq!(got.last(), Some(&(10, "+b".to_owned())));
    }

    #[test]
    fn a_block_of_test_output_with_hunk_markers_is_not_taken_for_the_diff() {
        let reply = "Output:\n```text\n@@ -1 +1 @@\n-1\n+2\n```\nFix:\n```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```\n";
        let got = texts(reply);
        assert_eq!(got.first(), Some(&(9, "--- a/x".to_owned())));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn strips_crlf_and_bom_and_keeps_bare_text() {
        let got = texts("\u{feff}--- a/x\r\n+++ b/x\r\n");
        assert_eq!(
            got,
            vec![(1, "--- a/x".to_owned()), (2, "+++ b/x".to_owned())]
        );
    }

    #[test]
    fn indented_fence_is_content_not_a_fence() {
        let reply = "```diff\n--- a/r.md\n+++ b/r.md\n@@ -1,2 +1,2 @@\n ```\n-x\n+y\n```\n";
        let got = texts(reply);
        assert_eq!(got.len(), 6);
        assert_eq!(got[3].1, " ```");
    }

    #[test]
    fn unclosed_fence_runs_to_the_end() {
        let got = texts("```diff\n--- a/x\n+++ b/x\n");
        assert_eq!(got.len(), 2);
    }

    /// Found by the fuzzer: stripping a single CR left `a\r` from `a\r\r`, and the
    /// rendering then lost one more on the next parse.
    #[test]
    fn every_trailing_cr_goes() {
        let got: Vec<String> = texts("x\r\r\r\ny\r\n")
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(got, ["x", "y"]);
    }
}
