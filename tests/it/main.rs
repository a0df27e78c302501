//! Integration tests: the built `pp` binary on real git repos in temp dirs.

mod session;
mod support;
