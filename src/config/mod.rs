//! The nats-server configuration language and the typed options it maps to.
//!
//! Reading a config is two steps with one job each: [`parser`] (over
//! [`lexer`]) turns text into a [`Map`] value tree that remembers file and
//! line of every key and value, resolving `include`, variables and
//! environment variables; [`options`] maps that tree onto [`Options`],
//! reporting `file:line:col: message` errors with nats-server's texts.

pub mod error;
pub mod lexer;
pub mod options;
pub mod parser;
pub mod value;

pub use error::ConfigError;
pub use options::*;
pub use parser::{parse_duration, parse_file, parse_str, DurationError};
pub use value::{Key, Kind, Map, Pos, Value};
