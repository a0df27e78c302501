//! Integration tests: one binary, a module per area. End-to-end modules drive the built `pp`
//! binary on real git repos in temp dirs; the others use the library API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on failure, like the tests they serve"
)]

mod attacks;
mod attest_cli;
mod attest_interop;
mod attest_negative;
mod candidates;
mod completions;
mod container;
mod container_broken;
mod context_fixtures;
mod evidence;
mod gc;
mod github;
mod integrity;
mod model;
mod model_client;
mod output;
mod overlay;
mod patch_fixtures;
mod progress;
mod schemas;
mod search;
mod search_lang;
mod session;
mod show;
mod snapshots;
mod staged;
mod suggest;
mod support;
