//! Fuzzes the patch parser: any input must parse or be rejected without panicking, and whatever
//! parses must render to a diff that parses back to the same rendering.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(patch) = pp::patch::parse(&text) {
        let rendered = pp::patch::render(&patch);
        let again = pp::patch::parse(&rendered);
        assert!(again.is_ok(), "rendered patch does not parse: {rendered:?}");
        if let Ok(again) = again {
            assert_eq!(pp::patch::render(&again), rendered);
        }
        let ids = pp::patch::hunks(&patch);
        let half: Vec<usize> = ids.iter().map(|h| h.id).step_by(2).collect();
        let _ = pp::patch::parse(&pp::patch::render_subset(&patch, &half));
    }
});
