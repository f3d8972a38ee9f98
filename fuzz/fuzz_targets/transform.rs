//! Subject transforms and weighted mapping tables: a source, destinations
//! and a subject, one per line. See `rnats::tenancy::mapping::fuzz_check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnats::tenancy::mapping::fuzz_check(data);
});
