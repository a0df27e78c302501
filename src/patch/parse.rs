//! Parsing sanitized reply lines into a [`Patch`]: `diff --git` and plain `---`/`+++` headers,
//! extended header lines (modes, renames, copies, binary markers), and `@@` hunks whose stated
//! counts are recounted rather than trusted. It does not check paths against any policy
//! (`validate.rs`) nor whether hunks apply (`plan.rs`).

use super::error::{Rejection, Rule};
use super::model::{FileOp, FilePatch, Hunk, HunkLine, Patch};
use super::sanitize::{ReplyLine, sanitize};

/// Sanitizes a reply (fences, prose, CRLF) and parses the unified diff in it.
///
/// Errors name the reply line they refer to. Hunks without a file header are refused with a
/// message that says which header lines are missing.
pub fn parse(text: &str) -> Result<Patch, Rejection> {
    let lines = sanitize(text);
    Parser {
        lines: &lines,
        i: 0,
        short: None,
        body_until: 0,
    }
    .run()
}

const HUNK_FORM_HINT: &str =
    "hunk headers look like `@@ -12,5 +12,6 @@`: old start,count then new start,count";

struct Parser<'a, 'b> {
    lines: &'b [ReplyLine<'a>],
    i: usize,
    /// The last hunk had fewer lines than its header states: (header line, stated old/new,
    /// seen old/new). Hunk-like lines after it then mean a line lost its prefix.
    short: Option<(usize, usize, usize, usize, usize)>,
    /// Lines before this index are known to run on as hunk lines to the next header.
    body_until: usize,
}

impl<'a> Parser<'a, '_> {
    fn text(&self, i: usize) -> Option<&'a str> {
        self.lines.get(i).map(|l| l.text)
    }

    fn no(&self, i: usize) -> usize {
        self.lines.get(i).or(self.lines.last()).map_or(1, |l| l.no)
    }

    /// Whether line `i` starts a plain `---`/`+++` file header.
    fn plain_header_at(&self, i: usize) -> bool {
        self.text(i).is_some_and(|t| t.starts_with("--- "))
            && self.text(i + 1).is_some_and(|t| t.starts_with("+++ "))
    }

    /// Whether lines from `i` up to the next header (or the end) are all hunk lines or blank,
    /// with at least one hunk line: then a blank line is context, not the end of the hunk.
    fn body_runs_on(&mut self, i: usize) -> bool {
        if i < self.body_until {
            return true;
        }
        let mut j = i;
        let mut body = false;
        while let Some(t) = self.text(j) {
            if self.boundary_at(j) {
                break;
            }
            if !t.is_empty() {
                if !t.starts_with([' ', '+', '-', '\\']) {
                    return false;
                }
                body = true;
            }
            j += 1;
        }
        if body {
            self.body_until = j;
        }
        body
    }

    fn boundary_at(&self, i: usize) -> bool {
        self.text(i)
            .is_some_and(|t| t.starts_with("@@") || t.starts_with("diff --git "))
            || self.plain_header_at(i)
    }

    fn run(mut self) -> Result<Patch, Rejection> {
        let mut files = Vec::new();
        while let Some(t) = self.text(self.i) {
            if t.starts_with("diff --git ") {
                files.push(self.git_file()?);
            } else if self.plain_header_at(self.i) {
                files.push(self.plain_file()?);
            } else if t.starts_with("--- ")
                && self.text(self.i + 1).is_some_and(|n| n.starts_with("@@"))
            {
                return Err(Rejection::at_line(
                    Rule::MalformedDiff,
                    self.no(self.i),
                    "`--- ` file header is not followed by a `+++ ` header",
                )
                .with_hint("write both `--- a/<path>` and `+++ b/<path>` before the first `@@`"));
            } else if t.starts_with("@@") {
                return Err(Rejection::at_line(
                    Rule::MissingFileHeader,
                    self.no(self.i),
                    format!("hunk `{t}` has no file header: the `--- a/<path>` and `+++ b/<path>` lines naming the file are missing"),
                )
                .with_hint("send a complete unified diff: `--- a/<path>`, `+++ b/<path>`, then the `@@` hunks"));
            } else {
                // Prose between or around file entries.
                self.i += 1;
            }
        }
        if files.is_empty() {
            return Err(Rejection::new(
                Rule::NoDiff,
                "no unified diff found in the reply",
            )
            .with_hint("reply with a unified diff: `--- a/<path>`, `+++ b/<path>` and `@@ -l,n +l,n @@` hunks"));
        }
        Ok(Patch { files })
    }

    fn plain_file(&mut self) -> Result<FilePatch, Rejection> {
        let line = self.no(self.i);
        let minus = header_name(self.text(self.i).unwrap_or("").trim_start_matches("--- "));
        let plus = header_name(
            self.text(self.i + 1)
                .unwrap_or("")
                .trim_start_matches("+++ "),
        );
        self.i += 2;
        let (old, new) = strip_prefixes(minus, plus);
        let hunks = self.hunks()?;
        let op = match (&old, &new) {
            (None, None) => {
                return Err(Rejection::at_line(
                    Rule::MalformedDiff,
                    line,
                    "both `---` and `+++` name /dev/null",
                ));
            }
            (None, Some(_)) => FileOp::Create,
            (Some(_), None) => FileOp::Delete,
            (Some(o), Some(n)) if o == n => FileOp::Modify,
            (Some(o), Some(n)) => {
                return Err(Rejection::at_line(
                    Rule::MalformedDiff,
                    line,
                    format!("`---` names `{o}` but `+++` names `{n}`"),
                )
                .with_hint("a plain diff cannot rename; use `diff --git` with `rename from`/`rename to` lines"));
            }
        };
        finish(FilePatch {
            op,
            old_path: old,
            new_path: new,
            old_mode: None,
            new_mode: None,
            binary: false,
            hunks,
            line,
        })
    }

    fn git_file(&mut self) -> Result<FilePatch, Rejection> {
        let line = self.no(self.i);
        let rest = self
            .text(self.i)
            .unwrap_or("")
            .trim_start_matches("diff --git ");
        let (git_a, git_b) = match git_names(rest) {
            Some((a, b)) => strip_prefixes(Some(a), Some(b)),
            None => (None, None),
        };
        self.i += 1;
        let mut fp = FilePatch {
            op: FileOp::Modify,
            old_path: None,
            new_path: None,
            old_mode: None,
            new_mode: None,
            binary: false,
            hunks: Vec::new(),
            line,
        };
        let (mut created, mut deleted) = (false, false);
        let (mut rename_from, mut rename_to, mut copy_from, mut copy_to) = (None, None, None, None);
        while let Some(t) = self.text(self.i) {
            let no = self.no(self.i);
            if let Some(m) = t.strip_prefix("old mode ") {
                fp.old_mode = Some(mode(m, no)?);
            } else if let Some(m) = t.strip_prefix("new mode ") {
                fp.new_mode = Some(mode(m, no)?);
            } else if let Some(m) = t.strip_prefix("deleted file mode ") {
                deleted = true;
                fp.old_mode = Some(mode(m, no)?);
            } else if let Some(m) = t.strip_prefix("new file mode ") {
                created = true;
                fp.new_mode = Some(mode(m, no)?);
            } else if let Some(p) = t
                .strip_prefix("rename from ")
                .or(t.strip_prefix("rename old "))
            {
                rename_from = header_name(p);
            } else if let Some(p) = t
                .strip_prefix("rename to ")
                .or(t.strip_prefix("rename new "))
            {
                rename_to = header_name(p);
            } else if let Some(p) = t.strip_prefix("copy from ") {
                copy_from = header_name(p);
            } else if let Some(p) = t.strip_prefix("copy to ") {
                copy_to = header_name(p);
            } else if t.starts_with("Binary files ") {
                fp.binary = true;
            } else if t.starts_with("GIT binary patch") {
                fp.binary = true;
                // The literal/delta payload runs to the next file header.
                while self
                    .text(self.i + 1)
                    .is_some_and(|n| !n.starts_with("diff --git "))
                {
                    self.i += 1;
                }
            } else if !(t.starts_with("index ")
                || t.starts_with("similarity index ")
                || t.starts_with("dissimilarity index "))
            {
                break;
            }
            self.i += 1;
        }
        let (mut minus, mut plus) = (None, None);
        let mut have_names = false;
        if self.plain_header_at(self.i) {
            let m = header_name(self.text(self.i).unwrap_or("").trim_start_matches("--- "));
            let p = header_name(
                self.text(self.i + 1)
                    .unwrap_or("")
                    .trim_start_matches("+++ "),
            );
            (minus, plus) = strip_prefixes(m, p);
            created |= minus.is_none();
            deleted |= plus.is_none();
            have_names = true;
            self.i += 2;
        }
        fp.hunks = self.hunks()?;
        let pick = |header: Option<String>, git: &Option<String>| {
            if have_names { header } else { git.clone() }
        };
        let name_old = pick(minus, &git_a).or_else(|| git_a.clone());
        let name_new = pick(plus, &git_b).or_else(|| git_b.clone());
        if rename_from.is_some() || rename_to.is_some() {
            fp.op = FileOp::Rename;
            fp.old_path = rename_from.map(|p| normalize(&p)).or(name_old);
            fp.new_path = rename_to.map(|p| normalize(&p)).or(name_new);
        } else if copy_from.is_some() || copy_to.is_some() {
            fp.op = FileOp::Copy;
            fp.old_path = copy_from.map(|p| normalize(&p)).or(name_old);
            fp.new_path = copy_to.map(|p| normalize(&p)).or(name_new);
        } else if created {
            fp.op = FileOp::Create;
            fp.new_path = name_new.or(name_old);
        } else if deleted {
            fp.op = FileOp::Delete;
            fp.old_path = name_old.or(name_new);
        } else {
            fp.old_path = name_old;
            fp.new_path = name_new;
            if fp.old_path != fp.new_path {
                return Err(Rejection::at_line(
                    Rule::MalformedDiff,
                    line,
                    format!(
                        "file header names `{}` and `{}` without `rename from`/`rename to` lines",
                        fp.old_path.as_deref().unwrap_or("?"),
                        fp.new_path.as_deref().unwrap_or("?")
                    ),
                ));
            }
        }
        if fp.old_path.is_none() && fp.new_path.is_none() {
            return Err(Rejection::at_line(
                Rule::MalformedDiff,
                line,
                "cannot read the file names in the `diff --git` header",
            ));
        }
        finish(fp)
    }

    /// Reads the hunks of one file entry, skipping prose between them.
    fn hunks(&mut self) -> Result<Vec<Hunk>, Rejection> {
        let mut hunks = Vec::new();
        loop {
            match self.text(self.i) {
                Some(t) if t.starts_with("@@") => hunks.push(self.hunk()?),
                Some(_) if !hunks.is_empty() => {
                    let mut j = self.i;
                    while let Some(t) = self.text(j) {
                        if self.boundary_at(j) {
                            break;
                        }
                        if let Some((h, so, sn, o, n)) = self.short
                            && t.starts_with([' ', '+', '-'])
                        {
                            return Err(Rejection::at_line(
                                Rule::MalformedDiff,
                                self.no(j),
                                format!("this hunk line is cut off from the hunk at line {h} by a line without a ' ', '+' or '-' prefix (the header states {so} old and {sn} new lines; {o} and {n} came before the cut)"),
                            )
                            .with_hint("prefix every unchanged line with a space (blank lines too), removed lines with '-', added lines with '+'"));
                        }
                        j += 1;
                    }
                    if self.text(j).is_some_and(|t| t.starts_with("@@")) {
                        self.i = j;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        Ok(hunks)
    }

    fn hunk(&mut self) -> Result<Hunk, Rejection> {
        let header_no = self.no(self.i);
        let header = self.text(self.i).unwrap_or("");
        let (old_start, old_count, new_start, new_count, section) = hunk_header(header)
            .ok_or_else(|| {
                Rejection::at_line(
                    Rule::MalformedDiff,
                    header_no,
                    format!("malformed hunk header `{header}`"),
                )
                .with_hint(HUNK_FORM_HINT)
            })?;
        self.i += 1;
        let mut hunk = Hunk {
            old_start,
            new_start,
            section,
            lines: Vec::new(),
            old_missing_newline: false,
            new_missing_newline: false,
            line: header_no,
        };
        let (mut old_seen, mut new_seen, mut blanks) = (0usize, 0usize, 0usize);
        // A `\ No newline at end of file` marker ends its side(s): no line may follow on them.
        let (mut old_closed, mut new_closed) = (false, false);
        while let Some(t) = self.text(self.i) {
            let satisfied = old_seen >= old_count && new_seen >= new_count;
            if t.starts_with("@@") || t.starts_with("diff --git ") || self.plain_header_at(self.i) {
                break;
            }
            if satisfied && (t == "-- " || (t.is_empty() && !self.body_runs_on(self.i))) {
                // A mail signature, or a blank line after a complete hunk followed by prose,
                // ends the hunk. Hunk lines after the blank line (counts too small) do not.
                break;
            }
            let first = t.chars().next();
            match first {
                Some(' ' | '+' | '-') => {
                    let any_closed = old_closed || new_closed;
                    let reopens = match first {
                        Some('-') => old_closed || (blanks > 0 && any_closed),
                        Some('+') => new_closed || (blanks > 0 && any_closed),
                        _ => any_closed,
                    };
                    if reopens {
                        return Err(Rejection::at_line(
                            Rule::MalformedDiff,
                            self.no(self.i),
                            "a hunk line follows `\\ No newline at end of file` on the same side; the marker must follow that side's last line",
                        ));
                    }
                    for _ in 0..blanks {
                        hunk.lines.push(HunkLine::Context(String::new()));
                    }
                    old_seen += blanks;
                    new_seen += blanks;
                    blanks = 0;
                    let body = t[1..].to_owned();
                    hunk.lines.push(match first {
                        Some(' ') => {
                            old_seen += 1;
                            new_seen += 1;
                            HunkLine::Context(body)
                        }
                        Some('-') => {
                            old_seen += 1;
                            HunkLine::Delete(body)
                        }
                        _ => {
                            new_seen += 1;
                            HunkLine::Insert(body)
                        }
                    });
                }
                Some('\\') => {
                    for _ in 0..blanks {
                        hunk.lines.push(HunkLine::Context(String::new()));
                    }
                    blanks = 0;
                    match hunk.lines.last() {
                        Some(HunkLine::Context(_)) => {
                            hunk.old_missing_newline = true;
                            hunk.new_missing_newline = true;
                            (old_closed, new_closed) = (true, true);
                        }
                        Some(HunkLine::Delete(_)) => {
                            hunk.old_missing_newline = true;
                            old_closed = true;
                        }
                        Some(HunkLine::Insert(_)) => {
                            hunk.new_missing_newline = true;
                            new_closed = true;
                        }
                        None => {
                            return Err(Rejection::at_line(
                                Rule::MalformedDiff,
                                self.no(self.i),
                                "`\\ No newline at end of file` before any hunk line",
                            ));
                        }
                    }
                }
                // Models and mail clients strip the space of blank context lines.
                None => blanks += 1,
                Some(_) => {
                    let next_is_body = self.text(self.i + 1).is_some_and(|n| {
                        n.starts_with([' ', '+', '-']) && !self.boundary_at(self.i + 1)
                    });
                    // A line right after hunk lines (no blank line between) that hunk lines
                    // follow is a hunk line missing its prefix; prose comes after a blank line.
                    if !satisfied && next_is_body && blanks == 0 {
                        return Err(Rejection::at_line(
                            Rule::MalformedDiff,
                            self.no(self.i),
                            format!("line inside the hunk at line {header_no} has no ' ', '+' or '-' prefix: `{t}`"),
                        )
                        .with_hint("prefix every unchanged line with a space, removed lines with '-', added lines with '+'"));
                    }
                    break;
                }
            }
            self.i += 1;
        }
        // Trailing blank lines count as context only as far as the stated counts ask for.
        let wanted = old_count
            .saturating_sub(old_seen)
            .min(new_count.saturating_sub(new_seen));
        for _ in 0..blanks.min(wanted) {
            hunk.lines.push(HunkLine::Context(String::new()));
        }
        let (o, n) = (hunk.old_len(), hunk.new_len());
        self.short =
            (o < old_count || n < new_count).then_some((header_no, old_count, new_count, o, n));
        if hunk.lines.is_empty() {
            return Err(Rejection::at_line(
                Rule::MalformedDiff,
                header_no,
                format!("hunk `{header}` has no lines"),
            ));
        }
        Ok(hunk)
    }
}

/// Final per-entry checks that need the whole entry.
fn finish(fp: FilePatch) -> Result<FilePatch, Rejection> {
    // Names are checked as soon as they are read: a name a diff header cannot round-trip must
    // not reach rendering, let alone the disk.
    for p in [fp.old_path.as_deref(), fp.new_path.as_deref()]
        .into_iter()
        .flatten()
    {
        super::validate::check_path_syntax(p)?;
    }
    let mode_change = fp.old_mode.is_some() && fp.new_mode.is_some() && fp.old_mode != fp.new_mode;
    if fp.op == FileOp::Modify && fp.hunks.is_empty() && !mode_change && !fp.binary {
        return Err(Rejection::at_line(
            Rule::MalformedDiff,
            fp.line,
            format!("file entry for `{}` has no hunks", fp.path()),
        )
        .with_hint("follow the `---`/`+++` header with at least one `@@` hunk"));
    }
    Ok(fp)
}

fn mode(text: &str, line: usize) -> Result<u32, Rejection> {
    u32::from_str_radix(text.trim(), 8).map_err(|_| {
        Rejection::at_line(
            Rule::MalformedDiff,
            line,
            format!("invalid file mode `{}`", text.trim()),
        )
    })
}

/// Parses `@@ -a[,b] +c[,d] @@ section` into starts, counts and section.
fn hunk_header(text: &str) -> Option<(usize, usize, usize, usize, String)> {
    let rest = text.strip_prefix("@@")?.trim_start();
    let (ranges, section) = match rest.find("@@") {
        Some(k) => (&rest[..k], rest[k + 2..].trim().to_owned()),
        None => (rest, String::new()),
    };
    let mut parts = ranges.split_whitespace();
    let (old_start, old_count) = range(parts.next()?.strip_prefix('-')?)?;
    let (new_start, new_count) = range(parts.next()?.strip_prefix('+')?)?;
    if parts.next().is_some() {
        return None;
    }
    Some((old_start, old_count, new_start, new_count, section))
}

fn range(text: &str) -> Option<(usize, usize)> {
    match text.split_once(',') {
        Some((s, c)) => Some((s.parse().ok()?, c.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

/// A name from a `---`/`+++`/`rename` line: unquoted, timestamp cut, `None` for /dev/null.
fn header_name(raw: &str) -> Option<String> {
    let name = if raw.starts_with('"') {
        unquote(raw).map(|(s, _)| s)?
    } else {
        let cut = raw.split('\t').next().unwrap_or(raw);
        cut.trim_end().to_owned()
    };
    if name == "/dev/null" {
        None
    } else {
        Some(name)
    }
}

/// Strips `a/` and `b/` prefixes when the pair uses them, and a leading `./`.
fn strip_prefixes(old: Option<String>, new: Option<String>) -> (Option<String>, Option<String>) {
    let sa = |s: &str| s.strip_prefix("a/").unwrap_or(s).to_owned();
    let sb = |s: &str| s.strip_prefix("b/").unwrap_or(s).to_owned();
    let (o, n) = match (old, new) {
        (Some(o), Some(n)) => {
            let candidates = [
                (sa(&o), sb(&n)),
                (o.clone(), n.clone()),
                (o.clone(), sb(&n)),
                (sa(&o), n.clone()),
            ];
            let (a, b) = candidates
                .iter()
                .find(|(a, b)| a == b)
                .cloned()
                .unwrap_or_else(|| (sa(&o), sb(&n)));
            (Some(a), Some(b))
        }
        (Some(o), None) => (Some(sa(&o)), None),
        (None, Some(n)) => (None, Some(sb(&n))),
        (None, None) => (None, None),
    };
    (o.map(|p| normalize(&p)), n.map(|p| normalize(&p)))
}

fn normalize(path: &str) -> String {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.to_owned()
}

/// The two names of `diff --git <a> <b>`, quoted or not; prefixes are left on.
fn git_names(rest: &str) -> Option<(String, String)> {
    if rest.starts_with('"') {
        let (a, used) = unquote(rest)?;
        let tail = rest[used..].trim_start();
        let b = if tail.starts_with('"') {
            unquote(tail)?.0
        } else {
            tail.to_owned()
        };
        return Some((a, b));
    }
    if let Some(b_quoted) = rest.find(" \"") {
        let (b, _) = unquote(&rest[b_quoted + 1..])?;
        return Some((rest[..b_quoted].to_owned(), b));
    }
    // With prefixes, prefer the split where both names agree (names may hold spaces).
    let splits: Vec<usize> = rest.match_indices(' ').map(|(k, _)| k).collect();
    let agree = splits.iter().find(|&&k| {
        let (a, b) = (&rest[..k], &rest[k + 1..]);
        a.strip_prefix("a/").unwrap_or(a) == b.strip_prefix("b/").unwrap_or(b)
    });
    let k = agree
        .or_else(|| splits.iter().find(|&&k| rest[k + 1..].starts_with("b/")))
        .or(splits.first())?;
    Some((rest[..*k].to_owned(), rest[k + 1..].to_owned()))
}

/// Decodes a C-style quoted name as git writes it; returns the name and the bytes consumed.
fn unquote(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut k = 1;
    while k < bytes.len() {
        match bytes[k] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), k + 1)),
            b'\\' => {
                let c = *bytes.get(k + 1)?;
                k += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let digits = bytes.get(k - 1..k + 2)?;
                        let s = std::str::from_utf8(digits).ok()?;
                        out.push(u8::from_str_radix(s, 8).ok()?);
                        k += 2;
                    }
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                k += 1;
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
