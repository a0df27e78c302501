//! Patch proposers. This branch only carries the OpenAI-compatible HTTP transport; the lead owns
//! the proposer enum, prompts and fallback chains.

pub mod openai;
