//! Commands outliving pp: pp reports each command it starts, as it starts and once it is gone,
//! to a small watcher process outside pp (the sandbox's guard, or the overlay's holder) over
//! that process's stdin. When pp ends normally it stops the watcher itself, which then does
//! nothing. When pp dies without that (SIGKILL, a crash), the watcher reads end of file and kills
//! every command still listed, so no test server or `sleep` keeps running, and writing, in a
//! sandbox that is about to be removed.
//!
//! pp starts every command as the leader of a new session, so one number names the command's
//! process group and its session: a process that leaves the group (`timeout`, a shell with job
//! control) stays in the session and is still found, by a scan of `/proc`.
//!
//! The protocol is one line per event: `+ID` when a command starts, `-ID` once pp has killed
//! what was left of it (pp kills every command's processes when the command ends), and
//! `c+RUNTIME NAME` / `c-RUNTIME NAME` for a command's container, which the watcher removes.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getsid};

/// pp's end: where it reports the commands it starts. Cheap to clone; reporting never fails a
/// command (a watcher that is gone has nothing to watch).
#[derive(Debug, Clone)]
pub struct GroupWatch(Arc<Mutex<std::process::ChildStdin>>);

impl GroupWatch {
    pub fn new(watcher_stdin: std::process::ChildStdin) -> Self {
        Self(Arc::new(Mutex::new(watcher_stdin)))
    }

    pub fn started(&self, id: i32) {
        self.send(&format!("+{id}"));
    }

    pub fn ended(&self, id: i32) {
        self.send(&format!("-{id}"));
    }

    /// A container `name` of engine `runtime` runs for a command (the client alone dying does
    /// not stop it).
    pub fn container_started(&self, runtime: &str, name: &str) {
        self.send(&format!("c+{runtime} {name}"));
    }

    pub fn container_ended(&self, runtime: &str, name: &str) {
        self.send(&format!("c-{runtime} {name}"));
    }

    fn send(&self, report: &str) {
        // One write per line: a report is never split.
        let line = format!("{report}\n");
        if let Ok(mut w) = self.0.lock() {
            let _ = w.write_all(line.as_bytes());
        }
    }
}

/// What a watcher learnt by the time pp was gone: the commands and containers still live.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reports {
    pub groups: BTreeSet<i32>,
    /// `(runtime, container name)`.
    pub containers: BTreeSet<(String, String)>,
}

impl Reports {
    /// Removes the containers (`RUNTIME rm -f NAME`), then kills the commands.
    pub fn clean_up(&self) {
        for (runtime, name) in &self.containers {
            let _ = std::process::Command::new(runtime)
                .args(["rm", "-f", name])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        for &id in &self.groups {
            signal_command(id, Signal::SIGKILL);
        }
    }
}

/// A container report's `RUNTIME NAME`, when both are what pp writes: a runtime without
/// whitespace, and a container name of `[A-Za-z0-9_.-]` (never an option).
fn container_report(text: &str) -> Option<(String, String)> {
    let (runtime, name) = text.split_once(' ')?;
    let name_ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let runtime_ok = !runtime.is_empty() && !runtime.starts_with('-');
    (name_ok && runtime_ok).then(|| (runtime.to_owned(), name.to_owned()))
}

/// The watcher's end: reads the reports until pp is gone and returns the commands still live.
/// pp is gone when its end of the pipe closes; should reading fail instead (which says nothing
/// about pp), the watcher waits until its parent, pp, is no longer its parent. Lines that are
/// not reports are skipped.
pub fn read_reports(mut input: impl BufRead) -> Reports {
    let mut live = Reports::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return live,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                wait_for_orphaning();
                return live;
            }
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            continue;
        };
        let text = text.trim();
        if let Some(c) = text.strip_prefix("c+").and_then(container_report) {
            live.containers.insert(c);
        } else if let Some(c) = text.strip_prefix("c-").and_then(container_report) {
            live.containers.remove(&c);
        } else if let Some(id) = text.strip_prefix('+').and_then(|n| n.parse::<i32>().ok()) {
            // Never 0 or 1 or below: killpg would reach the caller's own group, or init's.
            if id > 1 {
                live.groups.insert(id);
            }
        } else if let Some(id) = text.strip_prefix('-').and_then(|n| n.parse::<i32>().ok()) {
            live.groups.remove(&id);
        }
    }
}

/// Returns once the process that started this one has exited (this one is then re-parented).
fn wait_for_orphaning() {
    let parent = nix::unistd::getppid();
    while nix::unistd::getppid() == parent {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Sends `sig` to command `id`: its process group, and every process of its session (found in
/// `/proc`) that left the group. Refuses ids that could name the caller's own session or init.
pub fn signal_command(id: i32, sig: Signal) {
    let own = getsid(None).map(Pid::as_raw).unwrap_or(0);
    if id <= 1 || id == own {
        return;
    }
    let _ = killpg(Pid::from_raw(id), sig);
    // Session ids in /proc are only ours to compare when /proc shows our own pid namespace.
    if !own_proc() {
        return;
    }
    // A SIGKILLed straggler may have forked meanwhile: look again until the session is empty.
    for _ in 0..3 {
        let members = session_members(id);
        if members.is_empty() {
            break;
        }
        for pid in &members {
            let _ = kill(Pid::from_raw(*pid), sig);
        }
        if sig != Signal::SIGKILL {
            break;
        }
    }
}

/// Whether `/proc` is this process's pid namespace's (it is not after `unshare --pid` without a
/// fresh `/proc`): `/proc/self` then names our own pid.
fn own_proc() -> bool {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse::<i32>().ok())
        == Some(nix::unistd::getpid().as_raw())
}

/// Live (not zombie) processes whose session id is `sid`.
fn session_members(sid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid pgrp session …`; comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first().is_some_and(|state| *state != "Z")
                && fields.get(3).and_then(|s| s.parse::<i32>().ok()) == Some(sid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_groups_are_forgotten_and_nonsense_ignored() {
        let input: &[u8] = b"+100\n+200\n-100\n+0\n+-5\n+1\nbogus\n\xc3\xa9x\n\xff\xfe\n\
            c+docker pp-s1-a\nc+docker pp-s1-b\nc-docker pp-s1-a\nc+docker --rm\nc+docker a b\n\
            c+podman ../x\n+300";
        let live = read_reports(std::io::Cursor::new(input));
        assert_eq!(live.groups.into_iter().collect::<Vec<_>>(), vec![200, 300]);
        assert_eq!(
            live.containers.into_iter().collect::<Vec<_>>(),
            vec![("docker".to_owned(), "pp-s1-b".to_owned())]
        );
    }

    #[test]
    fn this_test_sees_its_own_proc() {
        assert!(own_proc());
    }

    #[test]
    fn a_process_that_left_the_group_is_found_by_its_session() {
        use std::os::unix::process::ExitStatusExt;
        // `setsid -w sh`: a session leader whose child, `timeout`, moves to a group of its
        // own. Killing the session leader's group alone would miss it.
        let mut child = std::process::Command::new("setsid")
            .args(["-w", "sh", "-c", "timeout 60 sleep 30.201 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let sleeper: i32 = line.trim().parse().unwrap();
        let sid = getsid(Some(Pid::from_raw(sleeper))).unwrap().as_raw();
        let started = std::time::Instant::now();
        while nix::unistd::getpgid(Some(Pid::from_raw(sleeper))).map(Pid::as_raw) == Ok(sid) {
            assert!(
                started.elapsed().as_secs() < 5,
                "timeout never left the group"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        signal_command(sid, Signal::SIGKILL);
        let status = child.wait().unwrap();
        assert!(status.signal() == Some(9) || !status.success());
        // SIGKILL is not instant: give the sleeper a moment to be gone (or a zombie).
        let gone = || {
            std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
                .map_or(true, |s| s.contains(") Z"))
        };
        let started = std::time::Instant::now();
        while !gone() && started.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(gone(), "the sleeper outlived its session's kill");
    }
}
