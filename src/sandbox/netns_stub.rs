//! Network isolation stub for platforms without Linux namespaces: always unavailable.

/// Hidden first argument that turns `pp` into the isolation wrapper.
pub const ISOLATE_SUBCOMMAND: &str = "__isolate";

pub fn network_wrapper_args() -> Vec<String> {
    vec![ISOLATE_SUBCOMMAND.to_owned(), "--net".to_owned()]
}

pub fn enter_and_exec(_argv: &[String]) -> std::io::Error {
    std::io::Error::other("network isolation is unsupported on this platform")
}
