//! Tokens, or claims payloads signed with fixed keys, through every JWT
//! decoder, validation and (when signed here) a re-encode round trip. See
//! `rnats::jwt::fuzz_check` for the input format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnats::jwt::fuzz_check::check_jwt(data);
});
