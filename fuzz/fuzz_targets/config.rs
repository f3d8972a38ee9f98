//! Feeds arbitrary text to the config parser and, when it parses, to the
//! options mapping: neither may panic, hang or run out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files relative to the working directory; the fuzzer
    // must not wander the file system (or read /dev/zero).
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    let file = Path::new("fuzz.conf");
    if let Ok(parsed) = rnats::config::parser::parse_str_tracked(text, file) {
        let _ = rnats::config::Options::from_parsed(&parsed, Some(file));
    }
});
