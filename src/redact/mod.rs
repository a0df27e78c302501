//! Redaction of everything `pp` sends to a model or stores from an exchange: known secret
//! shapes, high-entropy tokens, and the literal values of secret-looking environment variables.
//! Collecting the environment is the caller's job; the `Redactor` is pure once built.

mod entropy;
mod env;
mod redactor;
mod rules;

pub use entropy::{looks_random, shannon_entropy};
pub use env::{MIN_SECRET_LEN, is_searchable_value, is_secret_name};
pub use redactor::{Finding, Redactor};
