//! pp's own process hygiene, done first thing in `main` while pp is single-threaded: no core
//! dumps and not dumpable (a test that crashes pp, or reads `/proc/<pp>/mem`, gets no key),
//! descriptors pp inherited closed on exec, and the environment read once into a snapshot so
//! that pp's secrets can be wiped from its environment block (`/proc/<pp>/environ`) and its
//! `environ` array (what a spawned program would inherit) while pp keeps them in memory.
//! Everything else reads the environment through [`vars`] and [`var`].

use std::sync::OnceLock;

static SNAPSHOT: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Variables that hold pp's secrets whatever the configuration says.
pub const SECRET_VARS: &[&str] = &[
    "PP_OPENAI_API_KEY",
    "PP_LOCAL_API_KEY",
    "PP_ATTEST_HMAC_KEY",
];

/// Hardens the process and takes the environment snapshot. Call before any thread starts.
pub fn init() {
    let _ = SNAPSHOT.set(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
    );
    os::no_dumps();
    os::cloexec_inherited_fds();
    wipe(SECRET_VARS);
}

/// The environment pp started with (secrets included: callers filter what they pass on).
pub fn vars() -> Vec<(String, String)> {
    SNAPSHOT.get().cloned().unwrap_or_else(|| {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    })
}

/// One variable of the environment pp started with.
pub fn var(name: &str) -> Option<String> {
    match SNAPSHOT.get() {
        Some(s) => s.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        None => std::env::var(name).ok(),
    }
}

/// Wipes `names` from the process environment: their bytes in the environment block are
/// overwritten and the variables removed. Only sound while pp is single-threaded.
pub fn wipe(names: &[&str]) {
    for name in names {
        os::overwrite_value(name);
    }
}

#[cfg(target_os = "linux")]
mod os {
    use nix::libc;

    pub fn no_dumps() {
        let _ = nix::sys::prctl::set_dumpable(false);
        let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    }

    #[expect(unsafe_code, reason = "close_range has no safe wrapper in nix or std")]
    pub fn cloexec_inherited_fds() {
        // SAFETY: marks descriptors close-on-exec; none is closed or otherwise changed.
        unsafe {
            libc::close_range(
                3,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
            );
        }
    }

    #[expect(
        unsafe_code,
        reason = "the environment block is raw memory libc points into; std has no way to wipe it"
    )]
    pub fn overwrite_value(name: &str) {
        let Ok(c_name) = std::ffi::CString::new(name) else {
            return;
        };
        // SAFETY: called while pp is single-threaded (see `init`), so nothing reads or changes
        // the environment concurrently; getenv returns a pointer to the NUL-terminated value
        // inside a live environment string, whose bytes we overwrite within its length.
        unsafe {
            let p = libc::getenv(c_name.as_ptr());
            if !p.is_null() {
                let len = libc::strlen(p);
                std::ptr::write_bytes(p, 0, len);
            }
            std::env::remove_var(name);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub fn no_dumps() {}
    pub fn cloexec_inherited_fds() {}
    #[expect(
        unsafe_code,
        reason = "removing a variable is unsafe once threads may exist"
    )]
    pub fn overwrite_value(name: &str) {
        // SAFETY: called while pp is single-threaded (see `init`).
        unsafe { std::env::remove_var(name) }
    }
}
