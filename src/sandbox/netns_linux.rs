//! Network isolation on Linux: pp re-executes itself as a small wrapper that enters a fresh
//! network namespace (inside an unprivileged user namespace when not root), brings loopback up,
//! and executes the command. Loopback servers the command starts work; nothing else is reachable.
//! The wrapper runs before any thread exists, as `unshare(CLONE_NEWUSER)` requires; its command
//! line lives in `isolate.rs`. When the command also joins an overlay holder (`--join`), the
//! network namespace is created inside the holder's user namespace, where pp has the rights.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
use nix::unistd::{getgid, getuid};

/// Test hook: when set (to anything but `0`), entering a network namespace fails as on a
/// kernel that refuses it, so `network: deny` must stop before anything runs.
pub const SIMULATE_NETNS_REFUSAL_ENV: &str = "PP_SIMULATE_NETNS_REFUSED";

/// Enters a new network namespace with loopback up.
pub fn enter_network_namespace() -> std::io::Result<()> {
    if std::env::var_os(SIMULATE_NETNS_REFUSAL_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(std::io::Error::other(format!(
            "the kernel refused a network namespace (simulated: {SIMULATE_NETNS_REFUSAL_ENV} is set)"
        )));
    }
    let (uid, gid) = (getuid(), getgid());
    match unshare(CloneFlags::CLONE_NEWNET) {
        Ok(()) => {}
        Err(Errno::EPERM) => {
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).map_err(|e| {
                std::io::Error::other(format!(
                    "the kernel refused a user + network namespace ({e}); unprivileged user \
                     namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, \
                     user.max_user_namespaces)"
                ))
            })?;
            // Map ourselves to ourselves so files keep their owner.
            std::fs::write("/proc/self/setgroups", "deny")?;
            std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
            std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
        }
        Err(e) => {
            return Err(std::io::Error::other(format!(
                "the kernel refused a network namespace: {e}"
            )));
        }
    }
    loopback_up().map_err(|e| std::io::Error::other(format!("failed to bring loopback up: {e}")))
}

#[expect(unsafe_code, reason = "SIOCSIFFLAGS has no safe wrapper in nix or std")]
fn loopback_up() -> nix::Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the fd is a live socket and `ifr` is a valid, initialised ifreq for both calls.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(Errno::last());
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}
