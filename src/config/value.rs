//! The value tree produced by the config parser.
//!
//! Every value remembers where it was written (file and line), so that the
//! typed options layer can report errors as `file:line:col: message`.

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

impl Kind {
    /// The type of a value in rnats' own messages (`expected a string, got
    /// integer`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::String(_) => "string",
            Kind::Integer(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Bool(_) => "boolean",
            Kind::Duration(_) => "duration",
            Kind::DateTime(_) => "datetime",
            Kind::Array(_) => "array",
            Kind::Map(_) => "map",
        }
    }

    /// The value as Go's `%v` prints what nats-server's config reader made
    /// of it, for nats-server texts such as `Expected users field to be an
    /// array, got 1`. (nats-server prints the elements of arrays and maps as
    /// pointers; here they are printed as values.)
    pub fn go_value(&self) -> String {
        match self {
            Kind::String(s) | Kind::DateTime(s) => s.clone(),
            Kind::Integer(n) => n.to_string(),
            Kind::Float(f) => go_float(*f),
            Kind::Bool(b) => b.to_string(),
            Kind::Duration(d) => super::parser::format_go_duration(*d),
            Kind::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| v.kind.go_value()).collect();
                format!("[{}]", items.join(" "))
            }
            Kind::Map(m) => {
                let mut entries: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{}:{}", k.name, v.kind.go_value()))
                    .collect();
                entries.sort();
                format!("map[{}]", entries.join(" "))
            }
        }
    }

    /// The value as Go's `%q` prints it: a quoted string, an integer as a
    /// quoted rune (`'\x01'`), anything else as Go's `%!q(TYPE=VALUE)`.
    pub fn go_quoted(&self) -> String {
        match self {
            Kind::String(s) => format!("{s:?}"),
            Kind::Integer(n) => go_quote_rune(*n),
            other => format!("%!q({}={})", other.go_type(), other.go_value()),
        }
    }
}

/// Go's `%v` of a float64: the shortest representation, in exponent form
/// when the exponent is below -4 or at least 6 (`1e+06`, `1e-05`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return f.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// Go's `%q` of an integer: the rune it encodes, quoted and escaped as
/// `strconv.QuoteRune` does (invalid code points become U+FFFD).
fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    let body = match c {
        '\x07' => "\\a".to_owned(),
        '\x08' => "\\b".to_owned(),
        '\x0c' => "\\f".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        '\x0b' => "\\v".to_owned(),
        '\\' => "\\\\".to_owned(),
        '\'' => "\\'".to_owned(),
        c if c.is_ascii_control() => format!("\\x{:02x}", c as u32),
        c if c.is_control() && (c as u32) < 0x10000 => format!("\\u{:04x}", c as u32),
        c if c.is_control() => format!("\\U{:08x}", c as u32),
        c => c.to_string(),
    };
    format!("'{body}'")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_value_prints_like_percent_v() {
        assert_eq!(Kind::Integer(1).go_value(), "1");
        assert_eq!(Kind::String("bob".into()).go_value(), "bob");
        assert_eq!(Kind::Bool(true).go_value(), "true");
        assert_eq!(Kind::Float(0.5).go_value(), "0.5");
        assert_eq!(Kind::Float(123456.0).go_value(), "123456");
        assert_eq!(Kind::Float(1e6).go_value(), "1e+06");
        assert_eq!(Kind::Float(1.5e-5).go_value(), "1.5e-05");
        let pos = Pos {
            file: Arc::new(PathBuf::from("t.conf")),
            line: 1,
            col: 1,
        };
        let v = |kind| Value {
            kind,
            pos: pos.clone(),
        };
        let arr = Kind::Array(vec![v(Kind::Integer(1)), v(Kind::String("a".into()))]);
        assert_eq!(arr.go_value(), "[1 a]");
        let mut m = Map::default();
        for (k, val) in [("b", 2), ("a", 1)] {
            m.insert(
                Key {
                    name: k.into(),
                    pos: pos.clone(),
                },
                v(Kind::Integer(val)),
            );
        }
        assert_eq!(Kind::Map(m).go_value(), "map[a:1 b:2]");
    }

    #[test]
    fn go_quoted_prints_like_percent_q() {
        assert_eq!(Kind::String("UBAD".into()).go_quoted(), "\"UBAD\"");
        assert_eq!(Kind::Integer(1).go_quoted(), "'\\x01'");
        assert_eq!(Kind::Integer(65).go_quoted(), "'A'");
        assert_eq!(Kind::Integer(10).go_quoted(), "'\\n'");
        assert_eq!(Kind::Integer(-1).go_quoted(), "'\u{fffd}'");
        assert_eq!(Kind::Bool(true).go_quoted(), "%!q(bool=true)");
    }
}
