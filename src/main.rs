//! The `pp` binary: everything lives in the library; this parses, runs and exits.

fn main() -> std::process::ExitCode {
    pp::cli::main()
}
