//! Sequences of insert/remove/match on a Sublist (with and without its
//! result cache) against a naive list of subscriptions, and the subject
//! validity, matching and subset functions against naive definitions.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/subject_input.rs"]
mod subject_input;

fuzz_target!(|data: &[u8]| {
    subject_input::run(data);
});
