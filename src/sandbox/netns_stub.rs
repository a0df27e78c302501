//! Network isolation stub for platforms without Linux namespaces: always unavailable.

pub fn enter_network_namespace() -> std::io::Result<()> {
    Err(std::io::Error::other(
        "network isolation is unsupported on this platform",
    ))
}

/// Test hook (see the Linux version); nothing to simulate here.
pub const SIMULATE_NETNS_REFUSAL_ENV: &str = "PP_SIMULATE_NETNS_REFUSED";
