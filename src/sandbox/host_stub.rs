//! Host facts for platforms without Unix process ids: unknown, so containers run as the
//! image's user and stale containers are recognised by their deadline alone.

pub fn invoking_user() -> Option<(u32, u32)> {
    None
}

/// Unknown here: treated as alive, so only the deadline retires a container.
pub fn process_alive(_pid: i32) -> bool {
    true
}

pub fn pid_namespace() -> Option<String> {
    None
}
