//! STAN protobufs through every decoder and through the streaming engine as
//! a sequence of requests. See `rnats::streaming::fuzz_check` for the input
//! format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnats::streaming::fuzz_check::check(data);
});
