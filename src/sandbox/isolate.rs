//! The hidden `pp __isolate` wrapper's command line: pp re-executes itself with these arguments
//! so that namespace work happens in a fresh, single-threaded process (`unshare` of a user
//! namespace and `setns` refuse multi-threaded callers). This file only parses and renders the
//! arguments and dispatches; entering namespaces is platform code (`netns_*`, `overlay_*`).
//!
//! Forms:
//! - `pp __isolate --hold-overlay LOWER UPPER WORK`: become the overlay holder: enter a private
//!   mount namespace, mount the overlay at LOWER, print `ready`, and wait until stdin closes.
//! - `pp __isolate --confine [--rw DIR]… [--probe] -- CMD…`: the inner stage of confinement,
//!   run by bubblewrap (see `confine.rs`): close inherited descriptors, Landlock, seccomp, then
//!   execute CMD; `--probe` first prints the layers applied as one JSON line.
//! - `pp __isolate --guard DIR [--worktree WORKSPACE TOP]`: become a `copy` or `git_worktree`
//!   sandbox's guard: read process groups on stdin (`exec::GroupWatch`) and, should stdin close
//!   before pp kills the guard (pp died), kill them and remove the sandbox.

/// Hidden first argument that turns `pp` into the isolation wrapper.
pub const ISOLATE_SUBCOMMAND: &str = "__isolate";

/// The namespaces of a live overlay holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Inode of `/proc/PID/ns/mnt`, checked before joining.
    pub mnt_ino: u64,
}

/// What the wrapper was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolateArgs {
    HoldOverlay {
        lower: String,
        upper: String,
        work: String,
    },
    Confine {
        rw: Vec<String>,
        probe: bool,
        argv: Vec<String>,
    },
    Guard {
        dir: String,
        /// The user's workspace and the worktree's top directory, for `git_worktree`.
        worktree: Option<(String, String)>,
    },
}

/// Arguments after `pp` that make a guard of the sandbox in `dir` (see the module docs).
pub fn guard_args(dir: &str, worktree: Option<(&str, &str)>) -> Vec<String> {
    let mut v = vec![
        ISOLATE_SUBCOMMAND.to_owned(),
        "--guard".to_owned(),
        dir.to_owned(),
    ];
    if let Some((ws, top)) = worktree {
        v.extend(["--worktree".to_owned(), ws.to_owned(), top.to_owned()]);
    }
    v
}

/// Parses the arguments after `__isolate`.
pub fn parse(args: &[String]) -> Result<IsolateArgs, String> {
    if let [flag, lower, upper, work] = args
        && flag == "--hold-overlay"
    {
        return Ok(IsolateArgs::HoldOverlay {
            lower: lower.clone(),
            upper: upper.clone(),
            work: work.clone(),
        });
    }
    match args {
        [flag, dir] if flag == "--guard" => {
            return Ok(IsolateArgs::Guard {
                dir: dir.clone(),
                worktree: None,
            });
        }
        [flag, dir, wt, ws, top] if flag == "--guard" && wt == "--worktree" => {
            return Ok(IsolateArgs::Guard {
                dir: dir.clone(),
                worktree: Some((ws.clone(), top.clone())),
            });
        }
        _ => {}
    }
    let sep = args.iter().position(|a| a == "--").ok_or(
        "expected `--confine [--rw DIR]… [--probe] -- CMD…`, `--hold-overlay LOWER UPPER WORK` or `--guard DIR [--worktree WORKSPACE TOP]`",
    )?;
    let (opts, argv) = (&args[..sep], &args[sep + 1..]);
    if argv.is_empty() {
        return Err("no command given after `--`".into());
    }
    if opts.first().is_none_or(|o| o != "--confine") {
        return Err("expected `--confine` before `--`".into());
    }
    let (mut rw, mut probe) = (Vec::new(), false);
    let mut it = opts[1..].iter();
    while let Some(o) = it.next() {
        match o.as_str() {
            "--rw" => rw.push(it.next().ok_or("`--rw` needs a directory")?.clone()),
            "--probe" => probe = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(IsolateArgs::Confine {
        rw,
        probe,
        argv: argv.to_vec(),
    })
}

/// Runs the wrapper (everything after `__isolate`); returns an exit code only on failure or
/// when a holder is released.
pub fn main(args: &[String]) -> u8 {
    match parse(args) {
        Err(e) => {
            crate::console::errln!("pp: internal isolation wrapper: {e}");
            2
        }
        Ok(IsolateArgs::HoldOverlay { lower, upper, work }) => {
            super::overlay::hold(&lower, &upper, &work)
        }
        Ok(IsolateArgs::Guard { dir, worktree }) => super::guard::main(&dir, worktree),
        Ok(IsolateArgs::Confine { rw, probe, argv }) => {
            match super::confine_os::apply(&rw) {
                Ok(layers) if probe => match serde_json::to_string(&layers) {
                    Ok(line) => {
                        let _ = crate::console::outln!("{line}");
                    }
                    Err(e) => {
                        crate::console::errln!("pp: confinement report: {e}");
                        return 126;
                    }
                },
                Ok(_) => {}
                Err(err) => {
                    crate::console::errln!("pp: confinement failed: {err}");
                    return 126;
                }
            }
            exec_or_report(&argv)
        }
    }
}

/// Executes `argv`; returns only on failure, with the exit code a shell would give.
fn exec_or_report(argv: &[String]) -> u8 {
    let err = exec(argv);
    let program = argv.first().map(String::as_str).unwrap_or("");
    // Exit as a shell would, so a missing program is classified as such.
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            crate::console::errln!("pp: {program}: command not found");
            127
        }
        std::io::ErrorKind::PermissionDenied => {
            crate::console::errln!("pp: {program}: permission denied");
            126
        }
        _ => {
            crate::console::errln!("pp: {program}: {err}");
            126
        }
    }
}

fn exec(argv: &[String]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some((prog, args)) = argv.split_first() else {
        return std::io::Error::other("no command given after `--`");
    };
    std::process::Command::new(prog).args(args).exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn confine_form_parses_and_nothing_else_runs_a_command() {
        assert_eq!(
            parse(&s(&[
                "--confine",
                "--rw",
                "/w",
                "--probe",
                "--",
                "sh",
                "-c",
                "true"
            ]))
            .unwrap(),
            IsolateArgs::Confine {
                rw: s(&["/w"]),
                probe: true,
                argv: s(&["sh", "-c", "true"])
            }
        );
        // The namespace-joining form is gone: an overlay is entered between fork and exec.
        assert!(parse(&s(&["--join", "1:2", "--", "true"])).is_err());
        assert!(parse(&s(&["--", "true"])).is_err());
        assert!(parse(&s(&["--confine", "--rw"])).is_err());
    }

    #[test]
    fn hold_form_and_errors() {
        assert_eq!(
            parse(&s(&["--hold-overlay", "/w", "/u", "/k"])).unwrap(),
            IsolateArgs::HoldOverlay {
                lower: "/w".into(),
                upper: "/u".into(),
                work: "/k".into()
            }
        );
        for worktree in [None, Some(("/ws", "/tmp/pp-sandbox-x/ws"))] {
            let mut args = guard_args("/tmp/pp-sandbox-x", worktree);
            assert_eq!(args.remove(0), ISOLATE_SUBCOMMAND);
            assert_eq!(
                parse(&args).unwrap(),
                IsolateArgs::Guard {
                    dir: "/tmp/pp-sandbox-x".into(),
                    worktree: worktree.map(|(a, b)| (a.into(), b.into())),
                }
            );
        }
        assert!(parse(&s(&["--guard"])).is_err());
        assert!(parse(&s(&["--guard", "/d", "--worktree", "/ws"])).is_err());
        assert!(parse(&s(&["--net"])).is_err());
        assert!(parse(&s(&["--net", "--"])).is_err());
        assert!(parse(&s(&["--join", "x", "--", "true"])).is_err());
        assert!(parse(&s(&["--bogus", "--", "true"])).is_err());
    }
}
