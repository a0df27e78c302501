//! Process groups outliving pp: pp reports each command's process group, as it starts and once
//! it is gone, to a small watcher process outside pp (the sandbox's guard, or the overlay's
//! holder) over that process's stdin. When pp ends normally it kills the watcher first, which
//! then does nothing. When pp dies without that (SIGKILL, a crash), the watcher reads end of
//! file and kills every group still listed, so no test server or `sleep` keeps running, and
//! writing, in a sandbox that is about to be removed.
//!
//! The protocol is one line per event: `+PGID` when a group starts, `-PGID` once pp has killed
//! what was left of it (pp kills every command's group when the command ends).

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// pp's end: where it reports the groups it starts. Cheap to clone; reporting never fails a
/// command (a watcher that is gone has nothing to watch).
#[derive(Debug, Clone)]
pub struct GroupWatch(Arc<Mutex<std::process::ChildStdin>>);

impl GroupWatch {
    pub fn new(watcher_stdin: std::process::ChildStdin) -> Self {
        Self(Arc::new(Mutex::new(watcher_stdin)))
    }

    pub fn started(&self, pgid: i32) {
        self.send('+', pgid);
    }

    pub fn ended(&self, pgid: i32) {
        self.send('-', pgid);
    }

    fn send(&self, sign: char, pgid: i32) {
        if let Ok(mut w) = self.0.lock() {
            let _ = writeln!(w, "{sign}{pgid}");
            let _ = w.flush();
        }
    }
}

/// The watcher's end: reads the reports until end of file, and returns the groups still live.
pub fn read_groups(input: impl BufRead) -> BTreeSet<i32> {
    let mut live = BTreeSet::new();
    for line in input.lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        let (sign, n) = line.split_at(line.len().min(1));
        match (sign, n.parse::<i32>()) {
            // Never a group of 0 or below: killpg would reach the watcher's own group, or all.
            ("+", Ok(g)) if g > 1 => {
                live.insert(g);
            }
            ("-", Ok(g)) => {
                live.remove(&g);
            }
            _ => {}
        }
    }
    live
}

/// Kills every group in `groups` (those already gone are skipped silently).
pub fn kill_groups(groups: &BTreeSet<i32>) {
    for &g in groups {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_groups_are_forgotten_and_nonsense_ignored() {
        let input = "+100\n+200\n-100\n+0\n+-5\n+1\nbogus\n+300\n";
        let live = read_groups(std::io::Cursor::new(input));
        assert_eq!(live.into_iter().collect::<Vec<_>>(), vec![200, 300]);
    }

    #[test]
    fn a_live_group_is_killed() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        kill_groups(&BTreeSet::from([pgid]));
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9));
    }
}
