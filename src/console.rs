//! pp's own stdout and stderr, written without panicking. `println!` and `eprintln!` panic when
//! a write fails, and a write fails whenever the reader of a pipe went away
//! (`pp verify-attestation B | head -1`); every line pp prints goes through here instead.
//!
//! A closed stdout is not an error, as in ripgrep: the reader has all it wanted, so pp stops
//! writing, says nothing, and exits with the code its work earned (a failed verification stays
//! 13, so `set -o pipefail` never turns it into a pass). Any other stdout failure (a full disk
//! behind a redirection) is an error. Failures writing stderr are ignored: there is nowhere left
//! to report them. What the commands print is captured by `exec`, not here.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a stdout write found the reader gone; later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writing stdout failed for another reason than a closed pipe.
#[derive(Debug, thiserror::Error)]
#[error("failed to write to stdout: {source}")]
pub struct OutputError {
    #[source]
    source: io::Error,
}

impl OutputError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        "check where stdout goes (a full disk or a read-only file behind a redirection)".into()
    }
}

/// Writes `text` to stdout and flushes it. A reader that is gone (`EPIPE`) ends pp's output
/// quietly: this and every later call then return `Ok` without writing.
pub fn out(text: &str) -> Result<(), OutputError> {
    write_to(&mut io::stdout().lock(), text, &STDOUT_CLOSED)
}

fn write_to(w: &mut impl Write, text: &str, closed: &AtomicBool) -> Result<(), OutputError> {
    if closed.load(Ordering::Relaxed) {
        return Ok(());
    }
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            closed.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(source) => Err(OutputError { source }),
    }
}

/// Writes `text` to stderr, ignoring failures.
pub fn err(text: &str) {
    let mut e = io::stderr().lock();
    let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
}

/// A stderr writer for the log subscriber that never reports a failure (the subscriber would
/// otherwise report it with `eprintln!`, which panics on the same closed stderr).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietStderr;

impl Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for QuietStderr {
    type Writer = QuietStderr;

    fn make_writer(&'a self) -> Self::Writer {
        QuietStderr
    }
}

/// `println!` to stdout through [`out`]; evaluates to `Result<(), OutputError>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` through [`err`]: never fails, never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::console::err(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader is gone, or that fails some other way.
    struct Failing(io::ErrorKind, usize);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.1 += 1;
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly_and_for_good() {
        let closed = AtomicBool::new(false);
        let mut w = Failing(io::ErrorKind::BrokenPipe, 0);
        assert!(write_to(&mut w, "a\n", &closed).is_ok());
        assert!(closed.load(Ordering::Relaxed));
        assert!(write_to(&mut w, "b\n", &closed).is_ok());
        assert_eq!(w.1, 1, "nothing is written once the reader is gone");
    }

    #[test]
    fn other_write_failures_are_errors_with_a_hint() {
        let closed = AtomicBool::new(false);
        let mut w = Failing(io::ErrorKind::StorageFull, 0);
        let err = write_to(&mut w, "a\n", &closed).unwrap_err();
        let e = err.to_string();
        assert!(e.starts_with("failed to write to stdout"), "{e}");
        // The hint is data beside the message, printed as its own `hint:` line.
        assert!(err.hint().starts_with("check where stdout goes"), "{e}");
        assert!(!closed.load(Ordering::Relaxed));
    }

    #[test]
    fn writes_reach_the_writer() {
        let closed = AtomicBool::new(false);
        let mut buf = Vec::new();
        write_to(&mut buf, "x\n", &closed).unwrap();
        assert_eq!(buf, b"x\n");
    }
}
