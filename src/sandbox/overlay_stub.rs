//! The `overlay` backend on platforms without Linux mount namespaces: always unavailable, so
//! `auto` picks `copy`.

use std::path::Path;

use super::isolate::Holder;

pub const SIMULATE_REFUSAL_ENV: &str = "PP_SIMULATE_USERNS_REFUSED";

const UNSUPPORTED: &str = "overlay sandboxes need Linux mount namespaces";

/// Never constructed here.
#[derive(Debug)]
pub struct Overlay {
    never: std::convert::Infallible,
}

impl Overlay {
    pub fn mount(_exe: &Path, _lower: &Path, _upper: &Path, _work: &Path) -> Result<Self, String> {
        Err(UNSUPPORTED.into())
    }

    pub fn holder(&self) -> Holder {
        match self.never {}
    }

    pub fn take_watch(&mut self) -> Option<super::GroupWatch> {
        match self.never {}
    }

    pub fn view(&self) -> &Path {
        match self.never {}
    }

    pub fn user_namespace(&self) -> bool {
        match self.never {}
    }

    pub fn stop(&mut self) {
        match self.never {}
    }
}

pub fn prepare_removal(_work: &Path) {}

pub fn hold(_lower: &str, _upper: &str, _work: &str) -> u8 {
    crate::console::errln!("pp: {UNSUPPORTED}");
    126
}

/// Never constructed here.
#[derive(Debug)]
pub struct Entry {
    never: std::convert::Infallible,
}

impl Entry {
    pub fn open(_h: Holder, _cwd: &Path) -> std::io::Result<Self> {
        Err(std::io::Error::other(UNSUPPORTED))
    }

    pub fn install(self, _cmd: &mut tokio::process::Command) {
        match self.never {}
    }
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub setup_ms: f64,
    pub user_namespace: bool,
}

pub fn probe(_self_exe: &Path) -> Result<Probe, String> {
    Err(UNSUPPORTED.into())
}
