//! Config errors: every error names the file, the line and, where there is
//! one, the key, because an operator fixing a config needs all three.

use super::value::Pos;

/// An error found while reading, parsing or interpreting a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Where the problem is; `None` only for errors with no position at all
    /// (e.g. the top-level file could not be opened).
    pub pos: Option<Pos>,
    /// The option the error is about, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub fn new(pos: Option<Pos>, key: Option<&str>, message: impl Into<String>) -> Self {
        ConfigError {
            pos,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// An error about the value of `key` written at `pos`.
    pub fn at(pos: &Pos, key: &str, message: impl Into<String>) -> Self {
        Self::new(Some(pos.clone()), Some(key), message)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(pos) = &self.pos {
            write!(f, "{pos}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
