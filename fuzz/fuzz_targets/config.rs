//! Feeds arbitrary text to the config parser, the options mapping, the
//! accounts and mappings set-up and the streaming settings: none may panic,
//! hang or run out of memory. See `rnats::tenancy::account_config::fuzz_check`
//! and `rnats::streaming::config::fuzz_check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnats::tenancy::account_config::fuzz_check(data);
    rnats::streaming::config::fuzz_check(data);
});
