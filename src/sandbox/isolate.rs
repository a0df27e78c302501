//! The hidden `pp __isolate` wrapper's command line: pp re-executes itself with these arguments
//! so that namespace work happens in a fresh, single-threaded process (`unshare` of a user
//! namespace and `setns` refuse multi-threaded callers). This file only parses and renders the
//! arguments and dispatches; entering namespaces is platform code (`netns_*`, `overlay_*`).
//!
//! Forms:
//! - `pp __isolate [--join PID:INO] [--net] -- CMD…`: join the mount (and user) namespace held
//!   by process PID, whose mount-namespace inode must be INO (a recycled pid is refused), then
//!   optionally enter a fresh network namespace, then execute CMD in the caller's directory.
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
    Exec {
        join: Option<Holder>,
        net: bool,
        argv: Vec<String>,
    },
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

/// Arguments placed between `pp` and `--` to run a command without network.
pub fn network_wrapper_args() -> Vec<String> {
    wrapper_args(None, true)
}

/// Arguments placed between `pp` and `--`: join `join`'s namespaces, then drop the network.
pub fn wrapper_args(join: Option<Holder>, net: bool) -> Vec<String> {
    let mut v = vec![ISOLATE_SUBCOMMAND.to_owned()];
    if let Some(h) = join {
        v.push("--join".to_owned());
        v.push(format!("{}:{}", h.pid, h.mnt_ino));
    }
    if net {
        v.push("--net".to_owned());
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
        "expected `[--join PID:INO] [--net] -- CMD…`, `--hold-overlay LOWER UPPER WORK` or `--guard DIR [--worktree WORKSPACE TOP]`",
    )?;
    let (opts, argv) = (&args[..sep], &args[sep + 1..]);
    if argv.is_empty() {
        return Err("no command given after `--`".into());
    }
    if opts.first().is_some_and(|o| o == "--confine") {
        let (mut rw, mut probe) = (Vec::new(), false);
        let mut it = opts[1..].iter();
        while let Some(o) = it.next() {
            match o.as_str() {
                "--rw" => rw.push(it.next().ok_or("`--rw` needs a directory")?.clone()),
                "--probe" => probe = true,
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        return Ok(IsolateArgs::Confine {
            rw,
            probe,
            argv: argv.to_vec(),
        });
    }
    let mut join = None;
    let mut net = false;
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        match o.as_str() {
            "--net" => net = true,
            "--join" => {
                let v = it.next().ok_or("`--join` needs PID:INO")?;
                join = Some(parse_holder(v).ok_or_else(|| format!("bad `--join {v}`"))?);
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(IsolateArgs::Exec {
        join,
        net,
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
        Ok(IsolateArgs::Exec { join, net, argv }) => {
            if let Err(err) = enter(join, net) {
                crate::console::errln!("pp: isolation failed: {err}");
                // 126: the command could not be run (as a shell reports it).
                return 126;
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

fn enter(join: Option<Holder>, net: bool) -> std::io::Result<()> {
    if let Some(h) = join {
        super::overlay::join(h)?;
    }
    if net {
        super::netns::enter_network_namespace()?;
    }
    Ok(())
}

fn exec(argv: &[String]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some((prog, args)) = argv.split_first() else {
        return std::io::Error::other("no command given after `--`");
    };
    std::process::Command::new(prog).args(args).exec()
}

fn parse_holder(v: &str) -> Option<Holder> {
    let (pid, ino) = v.split_once(':')?;
    Some(Holder {
        pid: pid.parse().ok()?,
        mnt_ino: ino.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn rendered_arguments_parse_back() {
        let h = Holder {
            pid: 42,
            mnt_ino: 4026532000,
        };
        for (join, net) in [(None, true), (Some(h), false), (Some(h), true)] {
            let mut args = wrapper_args(join, net);
            assert_eq!(args.remove(0), ISOLATE_SUBCOMMAND);
            args.extend(s(&["--", "sh", "-c", "true"]));
            assert_eq!(
                parse(&args).unwrap(),
                IsolateArgs::Exec {
                    join,
                    net,
                    argv: s(&["sh", "-c", "true"])
                }
            );
        }
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
