//! One parser per test runner's report; each returns `None` when its summary is absent.

pub(crate) mod gotest;
pub(crate) mod jest;
pub(crate) mod junit;
pub(crate) mod libtest;
pub(crate) mod nodetest;
pub(crate) mod plain;
pub(crate) mod pytest;
pub(crate) mod unittest;
pub(crate) mod vitest;
