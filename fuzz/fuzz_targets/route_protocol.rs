//! Fuzzes the route (server-to-server) protocol parser: any input, split at
//! any points, must parse to the same ops (or the same error) on every kind
//! of route connection, every interest and message op must survive its
//! encoder, and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let seed = data.first().copied().unwrap_or(0);
    rnats::cluster::proto::replay::check(data, seed);
});
