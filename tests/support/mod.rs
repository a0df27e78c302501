//! Helpers shared by integration tests: a scripted OpenAI-compatible model server.
#![allow(
    dead_code,
    reason = "each test binary that includes `mod support;` uses a different subset"
)]
#![allow(
    clippy::expect_used,
    reason = "test helpers: a broken fixture should fail the test loudly"
)]

pub mod model_server;
