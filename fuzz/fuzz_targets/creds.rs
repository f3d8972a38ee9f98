//! Creds files through the creds parsers and key text through the nkey
//! decoders, with format/parse and decode/encode round trips. See
//! `rnats::jwt::fuzz_check` for the input format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnats::jwt::fuzz_check::check_creds(data);
});
