//! The value tree produced by the config parser.
//!
//! Every value remembers where it was written (file and line), so that the
//! typed options layer can report errors as `file:line: key: message`.

use std::path::PathBuf;
use std::sync::Arc;

/// Where a value or key was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    /// The file the value came from (after `include` resolution).
    pub file: Arc<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column of the first character of the value.
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Quoted, single-quoted, bare or block string.
    String(String),
    /// An integer; size suffixes (`1K`, `2MB`, `1GiB` …) are already applied.
    Integer(i64),
    /// A floating point number.
    Float(f64),
    /// `true/false/yes/no/on/off` (case-insensitive).
    Bool(bool),
    /// A duration written with a unit suffix (`10s`, `2m`, `500ms`, `1h30m`)
    /// outside quotes. Quoted durations stay strings (the options layer parses
    /// them with [`crate::config::parse_duration`]).
    Duration(std::time::Duration),
    /// An ISO-8601 date-time (`2024-01-01T00:00:00Z`), kept as written.
    DateTime(String),
    /// `[a, b, c]`.
    Array(Vec<Value>),
    /// `{ k: v, ... }`, keys in the order written. A later duplicate key
    /// replaces the earlier one as in nats-server.
    Map(Map),
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

/// An ordered map of keys to values; keys keep their position for errors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    pub entries: Vec<(Key, Value)>,
}

/// A map key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Kind {
    /// The Go type nats-server's config reader gives this value (`%T` in its
    /// error texts).
    pub fn go_type(&self) -> &'static str {
        match self {
            Kind::String(_) | Kind::Duration(_) => "string",
            Kind::Integer(_) => "int64",
            Kind::Float(_) => "float64",
            Kind::Bool(_) => "bool",
            Kind::DateTime(_) => "time.Time",
            Kind::Array(_) => "[]interface {}",
            Kind::Map(_) => "map[string]interface {}",
        }
    }
}

impl Map {
    /// Looks a key up case-insensitively (nats-server matches option names
    /// case-insensitively).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Inserts or replaces a key.
    pub fn insert(&mut self, key: Key, value: Value) {
        if let Some(slot) = self
            .entries
            .iter_mut()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(&key.name))
        {
            *slot = (key, value);
        } else {
            self.entries.push((key, value));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
