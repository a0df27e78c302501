//! Facts about the host process the container backend needs on Unix: who is running pp (for
//! `--user`), whether a process is alive, and which PID namespace pids are read in.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{Pid, getgid, getuid};

/// The invoking user's `uid:gid`.
pub fn invoking_user() -> Option<(u32, u32)> {
    Some((getuid().as_raw(), getgid().as_raw()))
}

/// Whether process `pid` exists (a process of another user counts as alive).
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

/// An identifier of this process's PID namespace, so a pid recorded by another pp is only
/// compared with live pids when both were read in the same namespace.
pub fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(link.to_string_lossy().replace([':', '[', ']'], ""))
}
