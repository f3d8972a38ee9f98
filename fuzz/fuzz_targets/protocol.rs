//! Fuzzes the client protocol parser: any input, split at any points, must
//! parse to the same ops (or the same error) and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let seed = data.first().copied().unwrap_or(0);
    rnats::protocol::replay::check(data, seed);
});
