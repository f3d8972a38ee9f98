//! Parser for the nats-server config language.
//!
//! A recursive-descent parser over [`super::lexer`] that builds a [`Map`]
//! value tree where every key and value keeps its file, line and column. It
//! resolves what nats-server's `conf/parse.go` resolves at parse time:
//!
//! * size suffixes on integers (`1k` = 1000, `1kb`/`1ki`/`1kib` = 1024, and so
//!   on for m, g, t, p, e);
//! * `include <path>`, relative to the including file's folder, inserting the
//!   included file's top-level keys where the `include` stands. An included
//!   file is parsed on its own: it does not see the includer's variables;
//! * `$NAME` variables: keys defined earlier in the same or an enclosing map
//!   (innermost first, exact case), then environment variables, whose text is
//!   parsed as a config value (so `MAX=2MB` gives an integer). `$2a$...`
//!   (bcrypt hashes) stay strings.
//!
//! Unquoted durations such as `10s` are strings here, exactly as in
//! nats-server (which never produces a duration value); the options layer
//! parses them with [`parse_duration`]. Beware that `2m` is *two million*
//! (the `m` size suffix), again as in nats-server.
//!
//! The parser is fed untrusted text by the fuzzer, so it bounds everything a
//! hostile file could use to exhaust the stack or memory: nesting depth,
//! include depth, and the number of values (variables copy subtrees, and
//! copying copies would otherwise grow exponentially).

use super::lexer::{End, EndContext, KeyContext, Lexer, Spanned, Token};
use super::{ConfigError, Key, Kind, Map, Pos, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Deepest nesting of maps and arrays accepted.
pub const MAX_NESTING: usize = 128;
/// Deepest chain of `include`s accepted.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most values one parse may create, variable copies included.
pub const MAX_VALUES: usize = 1_000_000;
/// Deepest chain of environment variables referring to each other.
const MAX_ENV_DEPTH: usize = 32;

/// The result of a parse with the bookkeeping the options layer needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedConfig {
    /// The top-level map.
    pub map: Map,
    /// Positions of the keys whose values were referenced as `$variables`.
    /// nats-server does not report such keys as unknown fields: a top-level
    /// `PASS = secret` used as `$PASS` is a variable definition, not an option.
    pub used_variables: Vec<Pos>,
}

impl ParsedConfig {
    /// True if `key` was defined and then used as a variable.
    pub fn is_used_variable(&self, key: &Key) -> bool {
        self.used_variables.contains(&key.pos)
    }
}

/// Parses a config file, resolving `include` relative to its folder.
pub fn parse_file(path: &Path) -> Result<Map, ConfigError> {
    parse_file_tracked(path).map(|p| p.map)
}

/// Parses config text; `file` is used for positions and to resolve `include`.
pub fn parse_str(src: &str, file: &Path) -> Result<Map, ConfigError> {
    parse_str_tracked(src, file).map(|p| p.map)
}

/// Like [`parse_file`], also reporting which keys were used as variables.
pub fn parse_file_tracked(path: &Path) -> Result<ParsedConfig, ConfigError> {
    let src = read_config(path)
        .map_err(|e| ConfigError::new(None, None, format!("error opening config file: {e}")))?;
    parse_str_tracked(&src, path)
}

/// Like [`parse_str`], also reporting which keys were used as variables.
pub fn parse_str_tracked(src: &str, file: &Path) -> Result<ParsedConfig, ConfigError> {
    let mut shared = Shared {
        used_variables: Vec::new(),
        values_left: MAX_VALUES,
        include_stack: vec![identity(file)],
        env_stack: Vec::new(),
    };
    let map = Parser::new(src, file, &mut shared).document()?;
    Ok(ParsedConfig {
        map,
        used_variables: shared.used_variables,
    })
}

/// Largest config file (or included file) read. Far above any real config;
/// it exists so that `include /dev/zero` cannot exhaust memory.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Why a config file (or an included file) could not be read. Its text
/// follows `error opening config file: ` (or `error opening include file
/// '…': `) in the config error.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    /// The file could not be opened (missing, no permission, ...).
    #[error("{0}")]
    Open(std::io::Error),
    /// Reading the opened file failed.
    #[error("{0}")]
    Read(std::io::Error),
    /// The file is larger than [`MAX_FILE_SIZE`].
    #[error("file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The file's bytes are not UTF-8 text.
    #[error("file is not valid UTF-8")]
    NotUtf8,
}

/// Reads a file as UTF-8 text, at most [`MAX_FILE_SIZE`] bytes.
fn read_config(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ReadError::Open)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Read)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge {
            limit: MAX_FILE_SIZE,
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// What identifies a file for include-cycle detection.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// State shared by a parse, its includes and its environment-variable
/// sub-parses.
struct Shared {
    used_variables: Vec<Pos>,
    values_left: usize,
    include_stack: Vec<PathBuf>,
    env_stack: Vec<String>,
}

/// Where a map body is being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// The top level of a file.
    Top,
    /// A `{ ... }` wrapping (part of) the top level, JSON style.
    Wrapped,
    /// A map value.
    Map,
}

struct Parser<'a, 's> {
    lx: Lexer<'a>,
    file: Arc<PathBuf>,
    /// Folder that relative `include` paths are resolved against.
    dir: PathBuf,
    /// The maps being built, outermost first: the scopes for `$VAR` lookup.
    scopes: Vec<Map>,
    /// Current depth of nested maps and arrays.
    depth: usize,
    shared: &'s mut Shared,
}

impl<'a, 's> Parser<'a, 's> {
    fn new(src: &'a str, file: &Path, shared: &'s mut Shared) -> Self {
        let file = Arc::new(file.to_path_buf());
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Parser {
            lx: Lexer::new(src, file.clone()),
            file,
            dir,
            scopes: Vec::new(),
            depth: 0,
            shared,
        }
    }

    /// Parses a whole file into its top-level map.
    fn document(mut self) -> Result<Map, ConfigError> {
        self.scopes.push(Map::default());
        self.body(Body::Top)?;
        Ok(self.scopes.pop().unwrap_or_default())
    }

    fn err(&self, pos: &Pos, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(Some(pos.clone()), None, msg)
    }

    /// Accounts for `n` new values against [`MAX_VALUES`].
    fn spend(&mut self, n: usize, pos: &Pos) -> Result<(), ConfigError> {
        if n > self.shared.values_left {
            return Err(too_large(pos));
        }
        self.shared.values_left -= n;
        Ok(())
    }

    fn enter(&mut self, pos: &Pos) -> Result<(), ConfigError> {
        if self.depth >= MAX_NESTING {
            return Err(too_deep(pos));
        }
        self.depth += 1;
        Ok(())
    }

    /// Parses entries into the innermost scope until the body ends.
    fn body(&mut self, body: Body) -> Result<(), ConfigError> {
        let key_ctx = match body {
            Body::Map => KeyContext::Map,
            _ => KeyContext::Top,
        };
        let end_ctx = match body {
            Body::Top => EndContext::Top,
            Body::Wrapped => EndContext::Wrapped,
            Body::Map => EndContext::Map,
        };
        loop {
            let Spanned { token, pos } = self.lx.next_key(key_ctx)?;
            match token {
                Token::Eof => {
                    return match body {
                        Body::Top => Ok(()),
                        Body::Wrapped => {
                            Err(self.err(&pos, "Unexpected EOF: missing '}' closing the block."))
                        }
                        Body::Map => Err(self.err(&pos, "Unexpected EOF processing map.")),
                    };
                }
                Token::MapEnd => match body {
                    Body::Wrapped | Body::Map => return Ok(()),
                    // A stray trailing `}` is tolerated, as nats-server does
                    // for JSON-like files.
                    Body::Top if self.lx.rest_is_blank() => return Ok(()),
                    Body::Top => return Err(self.err(&pos, "Unexpected '}' at the top level.")),
                },
                Token::MapStart => {
                    // `{ ... }` wrapping the top level (possibly more than
                    // once); its keys go into the same top-level map.
                    self.enter(&pos)?;
                    self.body(Body::Wrapped)?;
                    self.depth -= 1;
                    continue;
                }
                Token::Include(path) => {
                    self.include(&path, &pos)?;
                }
                Token::Key(name) => {
                    self.lx.key_separator(&name)?;
                    let key = Key { name, pos };
                    let first = self.lx.value()?;
                    let value = self.value(first)?;
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.insert(key, value);
                    }
                }
                other => {
                    return Err(self.err(&pos, format!("unexpected {other:?}")));
                }
            }
            match self.lx.value_end(end_ctx)? {
                End::Next => {}
                End::Close(_) => return Ok(()),
                End::Eof => return Ok(()),
            }
        }
    }

    /// Builds the value that starts with `first`.
    fn value(&mut self, first: Spanned) -> Result<Value, ConfigError> {
        let Spanned { token, pos } = first;
        if !matches!(token, Token::Variable(_)) {
            self.spend(1, &pos)?;
        }
        let kind = match token {
            Token::String(s) => Kind::String(s),
            Token::Bool(b) => Kind::Bool(b),
            Token::Integer(raw) => Kind::Integer(self.integer(&raw, &pos)?),
            Token::Float(raw) => match raw.parse::<f64>() {
                Ok(f) if f.is_finite() => Kind::Float(f),
                Ok(_) => return Err(self.err(&pos, format!("float '{raw}' is out of the range"))),
                Err(_) => return Err(self.err(&pos, format!("expected float, but got '{raw}'"))),
            },
            Token::DateTime(s) => {
                if !valid_datetime(&s) {
                    return Err(self.err(
                        &pos,
                        format!("expected Zulu formatted DateTime, but got '{s}'"),
                    ));
                }
                Kind::DateTime(s)
            }
            Token::Variable(name) => return self.variable(&name, &pos),
            Token::ArrayStart => {
                self.enter(&pos)?;
                let items = self.array()?;
                self.depth -= 1;
                Kind::Array(items)
            }
            Token::MapStart => {
                self.enter(&pos)?;
                self.scopes.push(Map::default());
                let r = self.body(Body::Map);
                let map = self.scopes.pop().unwrap_or_default();
                r?;
                self.depth -= 1;
                Kind::Map(map)
            }
            other => return Err(self.err(&pos, format!("unexpected {other:?}"))),
        };
        Ok(Value { kind, pos })
    }

    /// Parses array items up to the closing `]` (the `[` is consumed).
    fn array(&mut self) -> Result<Vec<Value>, ConfigError> {
        let mut items = Vec::new();
        loop {
            let first = self.lx.array_item()?;
            if first.token == Token::ArrayEnd {
                return Ok(items);
            }
            items.push(self.value(first)?);
            match self.lx.value_end(EndContext::Array)? {
                End::Next => {}
                End::Close(_) | End::Eof => return Ok(items),
            }
        }
    }

    /// Converts an integer with an optional size suffix.
    fn integer(&self, raw: &str, pos: &Pos) -> Result<i64, ConfigError> {
        let split = raw
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(raw.len());
        let (digits, suffix) = raw.split_at(split);
        let out_of_range = || self.err(pos, format!("integer '{raw}' is out of the range"));
        let num: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
            use std::num::IntErrorKind::*;
            match e.kind() {
                PosOverflow | NegOverflow => out_of_range(),
                _ => self.err(pos, format!("expected integer, but got '{raw}'")),
            }
        })?;
        let mult: i64 = match suffix.to_ascii_lowercase().as_str() {
            "" => 1,
            "k" => 1000,
            "kb" | "ki" | "kib" => 1 << 10,
            "m" => 1000_i64.pow(2),
            "mb" | "mi" | "mib" => 1 << 20,
            "g" => 1000_i64.pow(3),
            "gb" | "gi" | "gib" => 1 << 30,
            "t" => 1000_i64.pow(4),
            "tb" | "ti" | "tib" => 1 << 40,
            "p" => 1000_i64.pow(5),
            "pb" | "pi" | "pib" => 1 << 50,
            "e" => 1000_i64.pow(6),
            "eb" | "ei" | "eib" => 1 << 60,
            _ => {
                return Err(self.err(pos, format!("invalid size suffix in integer '{raw}'")));
            }
        };
        num.checked_mul(mult).ok_or_else(out_of_range)
    }

    /// Resolves `$name`: enclosing maps first (innermost first), then the
    /// environment.
    fn variable(&mut self, name: &str, pos: &Pos) -> Result<Value, ConfigError> {
        // A bcrypt hash (`$2a$10$...`) unquoted is not a variable reference.
        if ["2a$", "2b$", "2y$"].iter().any(|p| name.starts_with(p)) {
            self.spend(1, pos)?;
            return Ok(Value {
                kind: Kind::String(format!("${name}")),
                pos: pos.clone(),
            });
        }
        let limit = self.shared.values_left.saturating_add(1);
        let found = self.scopes.iter().rev().find_map(|scope| {
            scope
                .entries
                .iter()
                .rev()
                .find(|(k, _)| k.name == name)
                .map(|(k, v)| (k.pos.clone(), measure(v, limit), v))
        });
        if let Some((key_pos, (n, depth), v)) = found {
            if n > self.shared.values_left {
                return Err(too_large(pos));
            }
            if self.depth + depth > MAX_NESTING {
                return Err(too_deep(pos));
            }
            let mut v = v.clone();
            self.spend(n, pos)?;
            v.pos = pos.clone();
            if !self.shared.used_variables.contains(&key_pos) {
                self.shared.used_variables.push(key_pos);
            }
            return Ok(v);
        }
        self.env_variable(name, pos)
    }

    /// Looks `name` up in the environment and parses its text as a value.
    fn env_variable(&mut self, name: &str, pos: &Pos) -> Result<Value, ConfigError> {
        let line = pos.line;
        let not_found = || {
            error_at(
                pos,
                format!("variable reference for '{name}' on line {line} can not be found"),
            )
        };
        let could_not_parse = |why: String| {
            error_at(
                pos,
                format!(
                    "variable reference for '{name}' on line {line} could not be parsed: {why}"
                ),
            )
        };
        // Names the OS cannot hold are simply not set.
        let settable = !name.is_empty() && !name.contains(['=', '\0']);
        let Some(text) = settable.then(|| std::env::var_os(name)).flatten() else {
            return Err(not_found());
        };
        let Some(text) = text.to_str() else {
            return Err(could_not_parse("value is not valid UTF-8".into()));
        };
        if self.shared.env_stack.iter().any(|n| n == name) {
            return Err(could_not_parse(format!(
                "variable reference cycle for '{name}'"
            )));
        }
        if self.shared.env_stack.len() >= MAX_ENV_DEPTH {
            return Err(could_not_parse(
                "environment variables nest too deeply".into(),
            ));
        }
        let src = format!("pk={text}");
        let env_file = self.file.as_path().to_path_buf();
        let depth = self.depth;
        self.shared.env_stack.push(name.to_owned());
        let mut sub = Parser::new(&src, &env_file, &mut *self.shared);
        sub.depth = depth;
        let parsed = sub.document();
        self.shared.env_stack.pop();
        let map = parsed.map_err(|e| could_not_parse(e.message))?;
        let Some(v) = map.get("pk") else {
            return Err(not_found());
        };
        let mut v = v.clone();
        // The text came from the environment, not from the file: point every
        // position at the reference so errors lead to where it was used.
        restamp(&mut v, pos);
        Ok(v)
    }

    /// Inserts the top-level keys of an included file into the current map.
    fn include(&mut self, path: &str, pos: &Pos) -> Result<(), ConfigError> {
        let full = self.dir.join(path);
        if self.shared.include_stack.len() > MAX_INCLUDE_DEPTH {
            return Err(self.err(
                pos,
                format!(
                    "error parsing include file '{path}', includes nest too deeply (limit {MAX_INCLUDE_DEPTH})"
                ),
            ));
        }
        let id = identity(&full);
        if self.shared.include_stack.contains(&id) {
            return Err(self.err(
                pos,
                format!(
                    "error parsing include file '{path}', include cycle: the file includes itself"
                ),
            ));
        }
        let src = read_config(&full)
            .map_err(|e| self.err(pos, format!("error opening include file '{path}': {e}")))?;
        let depth = self.depth;
        self.shared.include_stack.push(id);
        let mut sub = Parser::new(&src, &full, &mut *self.shared);
        sub.depth = depth;
        let parsed = sub.document();
        self.shared.include_stack.pop();
        let map = parsed?;
        if let Some(scope) = self.scopes.last_mut() {
            for (k, v) in map.entries {
                scope.insert(k, v);
            }
        }
        Ok(())
    }
}

fn error_at(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(Some(pos.clone()), None, msg)
}

fn too_large(pos: &Pos) -> ConfigError {
    error_at(
        pos,
        format!("config is too large (more than {MAX_VALUES} values)"),
    )
}

fn too_deep(pos: &Pos) -> ConfigError {
    error_at(
        pos,
        format!("maps and arrays are nested too deeply (limit {MAX_NESTING})"),
    )
}

/// Counts the values in `v` (stopping once `limit` is reached) and measures
/// how deeply containers nest in it (0 for a scalar).
fn measure(v: &Value, limit: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut depth = 0usize;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, level)) = stack.pop() {
        n += 1;
        if n >= limit {
            break;
        }
        match &v.kind {
            Kind::Array(items) => {
                depth = depth.max(level + 1);
                stack.extend(items.iter().map(|i| (i, level + 1)));
            }
            Kind::Map(m) => {
                depth = depth.max(level + 1);
                stack.extend(m.entries.iter().map(|(_, v)| (v, level + 1)));
            }
            _ => {}
        }
    }
    (n, depth)
}

/// Sets the position of `v` and everything inside it.
fn restamp(v: &mut Value, pos: &Pos) {
    v.pos = pos.clone();
    match &mut v.kind {
        Kind::Array(items) => items.iter_mut().for_each(|i| restamp(i, pos)),
        Kind::Map(m) => {
            for (k, v) in m.entries.iter_mut() {
                k.pos = pos.clone();
                restamp(v, pos);
            }
        }
        _ => {}
    }
}

/// Checks the ranges of a `YYYY-MM-DDTHH:MM:SSZ` datetime, as Go's
/// `time.Parse` does.
fn valid_datetime(s: &str) -> bool {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d) && h < 24 && mi < 60 && se < 60
}

/// Parses a duration as nats-server accepts one in a config: Go's
/// `time.ParseDuration` syntax (`1h30m`, `500ms`, `2s`, `1.5s`, units `ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`) or a bare integer as seconds (nats-server
/// takes an integer `ping_interval: 60` as 60 seconds). Negative durations,
/// which a Rust [`Duration`] cannot hold, give `None`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().ok().map(Duration::from_secs);
    }
    parse_go_duration(t).ok()
}

/// Why [`parse_go_duration`] refused a string. The messages are Go's
/// `time.ParseDuration`'s, which nats-server puts in its config errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all: empty, a malformed number, or out of range.
    #[error("time: invalid duration {input:?}")]
    Invalid { input: String },
    /// A number without a unit (`60`).
    #[error("time: missing unit in duration {input:?}")]
    MissingUnit { input: String },
    /// A unit Go does not know (`1x`).
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    /// A negative duration, which a [`Duration`] cannot hold.
    #[error("negative duration {input:?}")]
    Negative { input: String },
}

/// Go's `time.ParseDuration`, with Go's error texts (`time: invalid duration
/// "x"`, `time: missing unit in duration "x"`, `time: unknown unit "y" in
/// duration "x"`). Negative durations are an error.
///
/// # Errors
/// A [`DurationError`] naming what is wrong.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid {
        input: s.to_owned(),
    };
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // Nanoseconds; Go's limit is i64::MAX.
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes()[0];
        if !(b == b'.' || b.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_ns: u128 = match unit {
            "" => {
                return Err(DurationError::MissingUnit {
                    input: s.to_owned(),
                })
            }
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: s.to_owned(),
                })
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = int.checked_mul(unit_ns).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Only the digits that can matter at nanosecond precision.
            let digits = &frac_part[..frac_part.len().min(30)];
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            let scale = 10u128.pow(digits.len() as u32);
            v += f * unit_ns / scale;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    if neg && total != 0 {
        return Err(DurationError::Negative {
            input: s.to_owned(),
        });
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats a duration as Go's `time.Duration.String` does (`1m30s`, `500ms`,
/// `1h0m0s`), so messages read like nats-server's.
pub fn format_go_duration(d: Duration) -> String {
    fn frac(v: u128, unit: u128) -> String {
        let int = v / unit;
        let rem = v % unit;
        if rem == 0 {
            return int.to_string();
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{rem:0width$}");
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let s = frac((secs % 60) * 1_000_000_000 + sub, 1_000_000_000);
    let mins = secs / 60;
    if mins == 0 {
        return format!("{s}s");
    }
    let hours = mins / 60;
    if hours == 0 {
        return format!("{}m{s}s", mins % 60);
    }
    format!("{hours}h{}m{s}s", mins % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(src: &str) -> Map {
        parse_str(src, Path::new("test.conf")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(src: &str) -> ConfigError {
        match parse_str(src, Path::new("test.conf")) {
            Ok(m) => panic!("expected an error for {src:?}, got {m:?}"),
            Err(e) => e,
        }
    }

    fn kind<'m>(m: &'m Map, key: &str) -> &'m Kind {
        &m.get(key).unwrap_or_else(|| panic!("no key {key}")).kind
    }

    fn s(v: &str) -> Kind {
        Kind::String(v.to_owned())
    }

    fn sub<'m>(m: &'m Map, key: &str) -> &'m Map {
        match kind(m, key) {
            Kind::Map(m) => m,
            other => panic!("{key} is not a map: {other:?}"),
        }
    }

    #[test]
    fn key_value_separators() {
        let m = parse("a = 1\nb: 2\nc 3\nd=4; e:5, f 6\n'g h' = 7\n\"i\": 8");
        for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
            assert_eq!(kind(&m, k), &Kind::Integer(v), "{k}");
        }
        assert_eq!(kind(&m, "g h"), &Kind::Integer(7));
        assert_eq!(kind(&m, "i"), &Kind::Integer(8));
        assert_eq!(m.len(), 8);
    }

    #[test]
    fn simple_top_level_like_nats() {
        let m = parse("foo='1'; bar=2.2; baz=true; boo=22");
        assert_eq!(kind(&m, "foo"), &s("1"));
        assert_eq!(kind(&m, "bar"), &Kind::Float(2.2));
        assert_eq!(kind(&m, "baz"), &Kind::Bool(true));
        assert_eq!(kind(&m, "boo"), &Kind::Integer(22));
    }

    #[test]
    fn booleans() {
        for (src, b) in [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("On", true),
            ("false", false),
            ("No", false),
            ("OFF", false),
        ] {
            let m = parse(&format!("x = {src}"));
            assert_eq!(kind(&m, "x"), &Kind::Bool(b), "{src}");
        }
        // Quoted booleans are strings.
        assert_eq!(kind(&parse("x = \"true\""), "x"), &s("true"));
    }

    #[test]
    fn comments_everywhere() {
        let m = parse(
            "# top\n// also top\na = 1 # after\nb = 2 // after\nm {\n # in map\n c = 3 // x\n}\narr = [\n 1, # one\n 2 // two\n 3\n]\n",
        );
        assert_eq!(kind(&m, "a"), &Kind::Integer(1));
        assert_eq!(kind(&m, "b"), &Kind::Integer(2));
        assert_eq!(kind(sub(&m, "m"), "c"), &Kind::Integer(3));
        match kind(&m, "arr") {
            Kind::Array(a) => assert_eq!(a.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nested_maps_and_arrays() {
        let m = parse(
            "foo {\n  host {\n    ip = '127.0.0.1'\n    port = 4242\n  }\n  servers = [ \"a.com\", \"b.com\", \"c.com\"]\n}\narray [\n  { abc: 123 }\n  { xyz: \"word\" }\n]\nmixed = [1, 'two', 3.0, true, [4], {five: 5}]\nempty = []\nnone = {}\n",
        );
        let foo = sub(&m, "foo");
        assert_eq!(kind(sub(foo, "host"), "ip"), &s("127.0.0.1"));
        assert_eq!(kind(sub(foo, "host"), "port"), &Kind::Integer(4242));
        match kind(foo, "servers") {
            Kind::Array(a) => assert_eq!(a[2].kind, s("c.com")),
            other => panic!("{other:?}"),
        }
        match kind(&m, "array") {
            Kind::Array(a) => {
                assert_eq!(a.len(), 2);
                assert!(matches!(&a[1].kind, Kind::Map(m) if m.get("xyz").is_some()));
            }
            other => panic!("{other:?}"),
        }
        match kind(&m, "mixed") {
            Kind::Array(a) => {
                assert_eq!(a.len(), 6);
                assert_eq!(a[0].kind, Kind::Integer(1));
                assert_eq!(a[2].kind, Kind::Float(3.0));
                assert!(matches!(&a[4].kind, Kind::Array(x) if x.len() == 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(kind(&m, "empty"), &Kind::Array(vec![]));
        assert_eq!(kind(&m, "none"), &Kind::Map(Map::default()));
    }

    #[test]
    fn arrays_of_numbers_close_cleanly() {
        // nats-server itself trips over a number right before `]`; rnats
        // accepts it.
        let m = parse("a = [1, 2]\nb = [1k,2.5]\nc=[1,2,]");
        match kind(&m, "a") {
            Kind::Array(a) => assert_eq!(a[1].kind, Kind::Integer(2)),
            other => panic!("{other:?}"),
        }
        match kind(&m, "b") {
            Kind::Array(a) => assert_eq!(a[0].kind, Kind::Integer(1000)),
            other => panic!("{other:?}"),
        }
        match kind(&m, "c") {
            Kind::Array(a) => assert_eq!(a.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn top_level_wrapped_in_braces_json_style() {
        let m = parse(
            "{\n  \"http_port\": 8227,\n  \"port\": 4227,\n  \"write_deadline\": \"1h\",\n  \"cluster\": {\n    \"port\": 6222,\n    \"routes\": [\n      \"nats://127.0.0.1:4222\",\n      \"nats://127.0.0.1:4223\"\n    ]\n  }\n}\n",
        );
        assert_eq!(kind(&m, "port"), &Kind::Integer(4227));
        assert_eq!(kind(&m, "write_deadline"), &s("1h"));
        assert_eq!(kind(sub(&m, "cluster"), "port"), &Kind::Integer(6222));
        assert!(parse("{}").is_empty());
        assert!(parse("\n{\n}\n").is_empty());
        assert_eq!(parse("{ listen: 0.0.0.0:4222 }").len(), 1);
        // A stray trailing brace is tolerated, as in nats-server.
        assert_eq!(parse("accounts { users = [{}]}\n}\n").len(), 1);
        assert!(parse_err("{ a = 1").message.contains("EOF"));
        assert!(parse_err("a = 1\n}\nb = 2").message.contains("'}'"));
    }

    #[test]
    fn strings_of_every_kind() {
        let m = parse(concat!(
            "dq = \"a\\tb\\\"c\\\\ \\x41\"\n",
            "sq = 'no \\t escapes $HOME'\n",
            "bare = nats://user:pass@host:4222/x?y\n",
            "ip = 127.0.0.1:4222\n",
            "num_led = 3xyz\n",
            "dur = 10s\n",
            "text (\nline one\n  line two\n)\n",
            "multi = 'a\nb'\n",
            "empty = \"\"\n",
        ));
        assert_eq!(kind(&m, "dq"), &s("a\tb\"c\\ A"));
        assert_eq!(kind(&m, "sq"), &s("no \\t escapes $HOME"));
        assert_eq!(kind(&m, "bare"), &s("nats://user:pass@host:4222/x?y"));
        assert_eq!(kind(&m, "ip"), &s("127.0.0.1:4222"));
        assert_eq!(kind(&m, "num_led"), &s("3xyz"));
        assert_eq!(kind(&m, "dur"), &s("10s"));
        assert_eq!(kind(&m, "text"), &s("\nline one\n  line two\n"));
        assert_eq!(kind(&m, "multi"), &s("a\nb"));
        assert_eq!(kind(&m, "empty"), &s(""));
    }

    #[test]
    fn size_suffixes_like_nats_server() {
        let m = parse(
            "k = 8k\nkb = 4kb\nki = 3ki\nkib = 4KiB\nm = 1m\nmb = 2MB\nmi = 2Mi\nmib = 64MiB\ng = 2g\ngb = 22GB\ngi = 22Gi\ngib = 22GiB\nt = 1t\ntb = 2TB\np = 1p\npb = 1PB\ne = 1e\neb = 1EB\nneg = -1k\n",
        );
        let want: [(&str, i64); 19] = [
            ("k", 8_000),
            ("kb", 4 << 10),
            ("ki", 3 << 10),
            ("kib", 4 << 10),
            ("m", 1_000_000),
            ("mb", 2 << 20),
            ("mi", 2 << 20),
            ("mib", 64 << 20),
            ("g", 2_000_000_000),
            ("gb", 22 << 30),
            ("gi", 22 << 30),
            ("gib", 22 << 30),
            ("t", 1_000_000_000_000),
            ("tb", 2 << 40),
            ("p", 1_000_000_000_000_000),
            ("pb", 1 << 50),
            ("e", 1_000_000_000_000_000_000),
            ("eb", 1 << 60),
            ("neg", -1000),
        ];
        for (k, v) in want {
            assert_eq!(kind(&m, k), &Kind::Integer(v), "{k}");
        }
        assert!(parse_err("x = 8EB").message.contains("out of the range"));
        assert!(parse_err("x = 99999999999999999999")
            .message
            .contains("out of the range"));
        assert!(parse_err("x = 1kbi").message.contains("suffix"));
    }

    #[test]
    fn floats_and_datetimes() {
        let m =
            parse("f = 0.5\nn = -2.25\nnow = 2016-05-04T18:53:41Z\nleap = 2024-02-29T00:00:00Z");
        assert_eq!(kind(&m, "f"), &Kind::Float(0.5));
        assert_eq!(kind(&m, "n"), &Kind::Float(-2.25));
        assert_eq!(
            kind(&m, "now"),
            &Kind::DateTime("2016-05-04T18:53:41Z".into())
        );
        assert!(parse_err("d = 2023-02-29T00:00:00Z")
            .message
            .contains("DateTime"));
        assert!(parse_err("d = 2023-13-01T00:00:00Z")
            .message
            .contains("DateTime"));
        assert!(parse_err("d = 2023-01-01T24:00:00Z")
            .message
            .contains("DateTime"));
        assert!(parse_err("f = 1.5s").message.contains("top-level value"));
    }

    #[test]
    fn positions_are_one_based_line_and_column() {
        let m = parse("\n  foo = 42\nbar {\n\tbaz: \"x\"\n}\n");
        let (k, v) = m.iter().next().unwrap();
        assert_eq!((k.pos.line, k.pos.col), (2, 3));
        assert_eq!((v.pos.line, v.pos.col), (2, 9));
        let (k, v) = sub(&m, "bar").iter().next().unwrap();
        assert_eq!((k.pos.line, k.pos.col), (4, 2));
        assert_eq!((v.pos.line, v.pos.col), (4, 7));
        assert_eq!(v.pos.file.as_path(), Path::new("test.conf"));
    }

    #[test]
    fn error_positions() {
        let e = parse_err("a = 1\nb = \"unterminated\n");
        assert_eq!(e.pos.as_ref().unwrap().line, 3);
        assert_eq!(e.message, "Unexpected EOF.");
        let e = parse_err("a = 1\nb = 2 x\n");
        let pos = e.pos.clone().unwrap();
        assert_eq!((pos.line, pos.col), (2, 7));
        assert_eq!(
            e.to_string(),
            "test.conf:2:7: Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead."
        );
        let e = parse_err("listen = 4222\n\ncluster = {\n\n  foo = bar\n\n");
        assert_eq!(e.message, "Unexpected EOF processing map.");
        assert_eq!(e.pos.unwrap().line, 7);
        let e = parse_err("aaaaaaaaaa");
        assert!(e.message.contains("config is invalid"), "{e}");
        let e = parse_err("m { a = 1 b = 2 }");
        assert!(
            e.message.starts_with("Expected a map value terminator"),
            "{e}"
        );
        let e = parse_err("a = [1 2]");
        assert!(
            e.message.starts_with("Expected an array value terminator"),
            "{e}"
        );
        let e = parse_err("a = [1,,2]");
        assert!(
            e.message.contains("Unexpected array value terminator"),
            "{e}"
        );
        let e = parse_err("a =\n 1");
        assert_eq!(e.message, "Expected value but found new line");
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let m = parse("a = 1\nb = 2\nA = 3\nm { x = 1, x = 2 }");
        assert_eq!(m.len(), 3);
        assert_eq!(kind(&m, "a"), &Kind::Integer(3));
        assert_eq!(kind(sub(&m, "m"), "x"), &Kind::Integer(2));
    }

    #[test]
    fn variables_are_block_scoped() {
        let m = parse(
            "index = 22\nnest {\n  index = 11\n  foo = $index\n  deeper { bar = $index }\n}\nbar = $index\nlist = [$index, {x: $index}]\n",
        );
        assert_eq!(kind(&m, "bar"), &Kind::Integer(22));
        let nest = sub(&m, "nest");
        assert_eq!(kind(nest, "foo"), &Kind::Integer(11));
        assert_eq!(kind(sub(nest, "deeper"), "bar"), &Kind::Integer(11));
        match kind(&m, "list") {
            Kind::Array(a) => {
                assert_eq!(a[0].kind, Kind::Integer(22));
                assert!(
                    matches!(&a[1].kind, Kind::Map(x) if x.get("x").unwrap().kind == Kind::Integer(22))
                );
            }
            other => panic!("{other:?}"),
        }
        // The copied value is positioned where it was referenced.
        let v = m.get("bar").unwrap();
        assert_eq!((v.pos.line, v.pos.col), (7, 7));
        // Maps can be variables too.
        let m = parse("perms = { publish = \"a.>\" }\nu = { permissions = $perms }");
        assert!(matches!(kind(sub(&m, "u"), "permissions"), Kind::Map(_)));
    }

    #[test]
    fn variables_not_expanded_in_quotes_and_bcrypt_kept() {
        let m = parse("a = 1\nq = \"$a\"\nsq = '$a'\npw = $2a$11$ooo\n");
        assert_eq!(kind(&m, "q"), &s("$a"));
        assert_eq!(kind(&m, "sq"), &s("$a"));
        assert_eq!(kind(&m, "pw"), &s("$2a$11$ooo"));
    }

    #[test]
    fn missing_variable_error() {
        let e = parse_err("a = 1\nfoo = $RNATS_TEST_SURELY_UNDEFINED_VAR");
        assert_eq!(
            e.message,
            "variable reference for 'RNATS_TEST_SURELY_UNDEFINED_VAR' on line 2 can not be found"
        );
        assert_eq!(e.pos.unwrap().col, 7);
        // A key is not visible before it is defined, nor from a sibling block.
        parse_err("foo = $later\nlater = 1");
        parse_err("a { x = 1 }\nb { y = $x }");
    }

    #[test]
    fn environment_variables() {
        // Each test uses its own variable names: tests run in parallel.
        std::env::set_var("RNATS_PT_NUM", "22");
        std::env::set_var("RNATS_PT_SIZE", "2MB");
        std::env::set_var("RNATS_PT_STR", "xyz");
        std::env::set_var("RNATS_PT_QUOTED", "'3xyz'");
        std::env::set_var("RNATS_PT_CHAIN", "$RNATS_PT_NUM");
        std::env::set_var("RNATS_PT_CYCLE", "$RNATS_PT_CYCLE");
        std::env::set_var("RNATS_PT_BAD", "\"unterminated");
        let m = parse(
            "a = $RNATS_PT_NUM\nb = $RNATS_PT_SIZE\nc = $RNATS_PT_STR\nd = $RNATS_PT_QUOTED\ne = $RNATS_PT_CHAIN\n",
        );
        assert_eq!(kind(&m, "a"), &Kind::Integer(22));
        assert_eq!(kind(&m, "b"), &Kind::Integer(2 << 20));
        assert_eq!(kind(&m, "c"), &s("xyz"));
        assert_eq!(kind(&m, "d"), &s("3xyz"));
        assert_eq!(kind(&m, "e"), &Kind::Integer(22));
        assert_eq!(m.get("a").unwrap().pos.line, 1);
        // Config keys shadow the environment.
        let m = parse("RNATS_PT_NUM = 5\na = $RNATS_PT_NUM");
        assert_eq!(kind(&m, "a"), &Kind::Integer(5));
        let e = parse_err("x = $RNATS_PT_CYCLE");
        assert!(e.message.contains("could not be parsed"), "{e}");
        assert!(e.message.contains("cycle"), "{e}");
        let e = parse_err("\nx = $RNATS_PT_BAD");
        assert!(e.message.contains("on line 2 could not be parsed"), "{e}");
    }

    #[test]
    fn used_variables_are_tracked() {
        let p = parse_str_tracked(
            "PASS = secret\nOTHER = 1\nauthorization { password = $PASS }",
            Path::new("t.conf"),
        )
        .unwrap();
        let (pass_key, _) = p.map.iter().next().unwrap();
        assert!(p.is_used_variable(pass_key));
        let (other_key, _) = p.map.iter().nth(1).unwrap();
        assert!(!p.is_used_variable(other_key));
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        p
    }

    #[test]
    fn includes_relative_to_including_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(
            dir.path(),
            "sub/passwords.conf",
            "ALICE_PASS: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\nBOB_PASS = bob\ninclude more.conf\n",
        );
        write(dir.path(), "sub/more.conf", "timeout = 0.5\n");
        let main = write(
            dir.path(),
            "main.conf",
            "listen: 127.0.0.1:4222\nauthorization {\n  include './sub/passwords.conf'\n  users = [\n    {user: alice, password: $ALICE_PASS}\n    {user: bob, password: $BOB_PASS}\n  ]\n}\ninclude \"sub/more.conf\"\n",
        );
        let m = parse_file(&main).unwrap();
        let auth = sub(&m, "authorization");
        assert_eq!(kind(auth, "timeout"), &Kind::Float(0.5));
        assert_eq!(kind(&m, "timeout"), &Kind::Float(0.5));
        match kind(auth, "users") {
            Kind::Array(u) => match &u[1].kind {
                Kind::Map(b) => assert_eq!(b.get("password").unwrap().kind, s("bob")),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        // Keys from an include carry the included file's positions.
        let (k, _) = auth.iter().next().unwrap();
        assert!(k.pos.file.ends_with("sub/passwords.conf"), "{}", k.pos);
        assert_eq!(k.pos.line, 1);
    }

    #[test]
    fn include_errors() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(dir.path(), "main.conf", "a = 1\ninclude missing.conf\n");
        let e = parse_file(&main).unwrap_err();
        assert!(
            e.message
                .starts_with("error opening include file 'missing.conf'"),
            "{e}"
        );
        assert_eq!(e.pos.unwrap().line, 2);

        let bad = write(dir.path(), "bad.conf", "x = 1\ny = [1 2]\n");
        let _ = bad;
        let main = write(dir.path(), "main2.conf", "include bad.conf\n");
        let e = parse_file(&main).unwrap_err();
        let pos = e.pos.unwrap();
        assert!(pos.file.ends_with("bad.conf"));
        assert_eq!(pos.line, 2);

        write(dir.path(), "loop_a.conf", "include loop_b.conf\n");
        write(dir.path(), "loop_b.conf", "include loop_a.conf\n");
        let e = parse_file(&dir.path().join("loop_a.conf")).unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");

        let self_inc = write(dir.path(), "self.conf", "a = 1\ninclude self.conf\n");
        assert!(parse_file(&self_inc).unwrap_err().message.contains("cycle"));

        // Includes do not see the includer's variables.
        write(dir.path(), "uses_var.conf", "b = $A_DEFINED_IN_MAIN\n");
        let main = write(
            dir.path(),
            "main3.conf",
            "A_DEFINED_IN_MAIN = 1\ninclude uses_var.conf\n",
        );
        let e = parse_file(&main).unwrap_err();
        assert!(e.message.contains("can not be found"), "{e}");
    }

    #[test]
    fn include_depth_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..40 {
            write(
                dir.path(),
                &format!("f{i}.conf"),
                &format!("k{i} = {i}\ninclude f{}.conf\n", i + 1),
            );
        }
        write(dir.path(), "f40.conf", "end = true\n");
        let e = parse_file(&dir.path().join("f0.conf")).unwrap_err();
        assert!(e.message.contains("nest too deeply"), "{e}");
        // A short chain is fine.
        let m = parse_file(&dir.path().join("f30.conf")).unwrap();
        assert_eq!(kind(&m, "end"), &Kind::Bool(true));
    }

    #[test]
    fn missing_file_error() {
        let e = parse_file(Path::new("/nonexistent/rnats.conf")).unwrap_err();
        assert!(e.pos.is_none());
        assert!(e.message.starts_with("error opening config file"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_err(&deep).message.contains("nested too deeply"));
        let deep = format!("a = {}", "{b = ".repeat(10_000));
        assert!(parse_err(&deep).message.contains("nested too deeply"));
        let deep = "{".repeat(10_000);
        assert!(parse_err(&deep).message.contains("nested too deeply"));
        // Up to the limit is fine.
        let ok = format!("a = {}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        parse(&ok);
    }

    #[test]
    fn variable_copies_cannot_explode() {
        let mut src = String::from("v0 = [1, 2]\n");
        for i in 1..40 {
            src.push_str(&format!("v{i} = [$v{p}, $v{p}]\n", p = i - 1));
        }
        assert!(parse_err(&src).message.contains("too large"));
        // Nor can they stack nesting beyond the limit.
        let mut src = format!("v0 = {}{}\n", "[".repeat(100), "]".repeat(100));
        for i in 1..10 {
            src.push_str(&format!(
                "v{i} = {}$v{}{}\n",
                "[".repeat(20),
                i - 1,
                "]".repeat(20)
            ));
        }
        assert!(parse_err(&src).message.contains("nested too deeply"));
    }

    #[test]
    fn malformed_inputs_never_panic() {
        let inputs = [
            "",
            "{",
            "}",
            "{{{{",
            "}}}}",
            "[",
            "]",
            "a",
            "a =",
            "a = [",
            "a = {",
            "a = (",
            "a = \"",
            "a = '",
            "a = \"\\",
            "a = \\",
            "a = \\x",
            "a = \"\\x4",
            "a = $",
            "$",
            "a = -",
            "a = -.",
            "a = 1.",
            "a = 1e",
            "a = 2020-",
            "a = 2020-01-01T",
            "include",
            "include ",
            "include \"",
            "include '",
            "a { include }",
            "a=b=c",
            ":",
            "=",
            "a:{b:{c:[{d:",
            "a = [1,",
            "a = [1 ,]",
            "'",
            "\"",
            "#",
            "//",
            "/",
            "a = 1 /",
            "a = )",
            "a = (\n)x",
            "\u{feff}a = 1",
            "a = \u{0}",
            "\u{0}",
            "a = [}",
            "a = {]",
            "a {} }",
            "{ a = 1 } }",
            "a = 99999999999999999999k",
            "a = -9223372036854775808",
            "a = 1.7976931348623157e308",
            "a = 9999999999999999999999999999999999999999999.0",
        ];
        for input in inputs {
            let _ = parse_str(input, Path::new("fuzz.conf"));
        }
        assert_eq!(
            kind(&parse("a = -9223372036854775808"), "a"),
            &Kind::Integer(i64::MIN)
        );
    }

    /// Replays the fuzz seeds: none may panic; `ok-*` seeds must parse and
    /// `bad-*` seeds must fail.
    #[test]
    fn fuzz_corpus_replays_without_panic() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let result = parse_str(&text, &path);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("ok-") {
                if let Err(e) = result {
                    panic!("{name} should parse: {e}");
                }
            } else if name.starts_with("bad-") {
                assert!(result.is_err(), "{name} should not parse");
            }
            n += 1;
        }
        assert!(
            n >= 10,
            "fuzz corpus at {} has only {n} seeds",
            dir.display()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Random text over the characters that matter to the grammar never
        /// panics (a cheap stand-in for the cargo-fuzz target in `fuzz/`).
        #[test]
        fn random_grammar_soup_never_panics(src in "[{}\\[\\]()=:;,#/\"'\\\\$ \n\tabkKmMiIxuUeET0-9.Z-]{0,200}") {
            let _ = parse_str(&src, Path::new("prop.conf"));
        }

        /// Cutting or splicing a valid config anywhere never panics.
        #[test]
        fn mutated_seed_never_panics(cut in 0usize..4000, insert in "[{}\\[\\]()\"'\\\\$\n]{0,3}") {
            let seed = include_str!("../../config/full.conf");
            let mut cut = cut.min(seed.len());
            while !seed.is_char_boundary(cut) {
                cut -= 1;
            }
            let _ = parse_str(&seed[..cut], Path::new("prop.conf"));
            let spliced = format!("{}{insert}{}", &seed[..cut], &seed[cut..]);
            if let Ok(parsed) = parse_str_tracked(&spliced, Path::new("prop.conf")) {
                let _ = crate::config::Options::from_parsed(&parsed, None);
            }
        }
    }

    #[test]
    fn durations_go_syntax() {
        let d = |s: &str| parse_duration(s);
        assert_eq!(d("2s"), Some(Duration::from_secs(2)));
        assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(d("1.s"), Some(Duration::from_secs(1)));
        assert_eq!(d("10us"), Some(Duration::from_micros(10)));
        assert_eq!(d("10µs"), Some(Duration::from_micros(10)));
        assert_eq!(d("10μs"), Some(Duration::from_micros(10)));
        assert_eq!(d("7ns"), Some(Duration::from_nanos(7)));
        assert_eq!(d("1h2m3s4ms"), Some(Duration::from_millis(3_723_004)));
        assert_eq!(d("+5s"), Some(Duration::from_secs(5)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("-0s"), Some(Duration::ZERO));
        // A bare integer is seconds.
        assert_eq!(d("60"), Some(Duration::from_secs(60)));
        for bad in ["", "s", "1x", "-1s", "1.5.5s", "..s", "1h-2m", "2562048h"] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(
            parse_go_duration("60").unwrap_err().to_string(),
            "time: missing unit in duration \"60\""
        );
        assert_eq!(
            parse_go_duration("1x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            parse_go_duration("abc").unwrap_err().to_string(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_go_duration("-1s").unwrap_err(),
            DurationError::Negative {
                input: "-1s".into()
            }
        );
        assert_eq!(
            parse_go_duration("-1s").unwrap_err().to_string(),
            "negative duration \"-1s\""
        );
        assert!(parse_go_duration("2562047h").is_ok());
    }

    #[test]
    fn go_duration_formatting() {
        let f = format_go_duration;
        assert_eq!(f(Duration::ZERO), "0s");
        assert_eq!(f(Duration::from_secs(10)), "10s");
        assert_eq!(f(Duration::from_secs(90)), "1m30s");
        assert_eq!(f(Duration::from_secs(120)), "2m0s");
        assert_eq!(f(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(f(Duration::from_millis(1500)), "1.5s");
        assert_eq!(f(Duration::from_millis(500)), "500ms");
        assert_eq!(f(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(f(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(f(Duration::from_nanos(15)), "15ns");
    }
}
