//! Config errors: every error names the file and the line, because an
//! operator fixing a config needs both; the message itself is nats-server's
//! text wherever nats-server has one, so the two servers read the same.

use super::value::{Kind, Pos};

/// An error found while reading, parsing or interpreting a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Where the problem is; `None` only for errors with no position at all
    /// (e.g. the top-level file could not be opened).
    pub pos: Option<Pos>,
    /// The option the error is about, when there is one. Shown only when
    /// there is no position (see the `Display` impl).
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

    /// rnats' own type error where nats-server has no text of its own (it
    /// panics on a failed type assertion): `key: expected WANT, got TYPE`.
    /// The key is part of the message because a positioned error does not
    /// print it.
    pub fn wrong_type(pos: &Pos, key: &str, want: &str, got: &Kind) -> Self {
        Self::at(
            pos,
            key,
            format!("{key}: expected {want}, got {}", got.name()),
        )
    }
}

/// `FILE:LINE:COL: message` as nats-server prints it. The key path is printed
/// (`key: message`) only when there is no position: with one, the message is
/// nats-server's text alone, and messages of rnats' own name their key
/// themselves.
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.pos, &self.key) {
            (Some(pos), _) => write!(f, "{pos}: ")?,
            (None, Some(key)) => write!(f, "{key}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn pos() -> Pos {
        Pos {
            file: Arc::new(PathBuf::from("t.conf")),
            line: 2,
            col: 3,
        }
    }

    #[test]
    fn key_is_shown_only_without_a_position() {
        let e = ConfigError::at(&pos(), "accounts.A.users", "User entry requires a user");
        assert_eq!(e.to_string(), "t.conf:2:3: User entry requires a user");
        assert_eq!(e.key.as_deref(), Some("accounts.A.users"));
        let e = ConfigError::new(None, Some("system_account"), "account missing");
        assert_eq!(e.to_string(), "system_account: account missing");
        assert_eq!(ConfigError::new(None, None, "plain").to_string(), "plain");
    }

    #[test]
    fn wrong_type_names_the_key_in_the_message() {
        let e = ConfigError::wrong_type(&pos(), "max_payload", "an integer", &Kind::Bool(true));
        assert_eq!(
            e.to_string(),
            "t.conf:2:3: max_payload: expected an integer, got boolean"
        );
    }
}
