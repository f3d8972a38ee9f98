//! Parser for the nats-server config language. INTERFACE STUB.
use super::{ConfigError, Map};
use std::path::Path;
use std::time::Duration;

/// Parses a config file, resolving `include` relative to its folder.
pub fn parse_file(path: &Path) -> Result<Map, ConfigError> {
    let _ = path;
    todo!()
}

/// Parses config text; `file` is used for positions and to resolve `include`.
pub fn parse_str(src: &str, file: &Path) -> Result<Map, ConfigError> {
    let _ = (src, file);
    todo!()
}

/// Parses a Go-style duration (`1h30m`, `500ms`, `2s`, `1.5s`), or a bare
/// integer as seconds, as nats-server accepts them.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let _ = s;
    todo!()
}
