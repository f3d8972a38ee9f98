//! Lexer for the nats-server config language.
//!
//! The language is context sensitive (the same characters mean different
//! things as a key, a value or a terminator), so instead of a free-running
//! token stream this lexer offers one entry point per grammatical position
//! and the parser calls the one it needs: [`Lexer::next_key`],
//! [`Lexer::key_separator`], [`Lexer::value`], [`Lexer::array_item`] and
//! [`Lexer::value_end`]. This mirrors the state machine of nats-server's
//! `conf/lex.go` (whose behaviour, including its quirks, is what configs in the
//! wild rely on) without copying its shape.
//!
//! Numbers are returned as raw text ([`Token::Integer`] keeps its size
//! suffix) so the parser can report range errors with the text as written.
//! Nothing here panics on any input: every unexpected character becomes a
//! [`ConfigError`] carrying the file, line and column.

use super::{ConfigError, Pos};
use std::path::PathBuf;
use std::sync::Arc;

/// A lexical token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A map key (bare, or quoted without escapes).
    Key(String),
    /// `include <path>`: the path as written.
    Include(String),
    /// Any string value: double-quoted (escapes applied), single-quoted (raw),
    /// block `( ... )` or unquoted.
    String(String),
    /// Unquoted `true/false/yes/no/on/off`, any case.
    Bool(bool),
    /// An integer as written, e.g. `-12`, `64MB`, `1k`; the parser applies the
    /// suffix.
    Integer(String),
    /// A float as written, e.g. `0.5`.
    Float(String),
    /// `YYYY-MM-DDTHH:MM:SSZ` as written (shape checked, ranges not).
    DateTime(String),
    /// `$NAME` outside quotes: the name without the `$`.
    Variable(String),
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    Eof,
}

/// A token and where its first character was.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub pos: Pos,
}

/// Where a key is being read: the top level (where `{` opens a wrapping block,
/// as in JSON-style configs) or inside a `{ }` map value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    Top,
    Map,
}

/// What may end a value, by where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndContext {
    /// Top level of a file: newline, `;`, `,`, `}` (tolerated, as in
    /// nats-server) or end of input.
    Top,
    /// Inside a top-level wrapping `{ ... }`: newline, `;`, `,` or `}`.
    Wrapped,
    /// Inside a map value: newline, `;`, `,` or `}`.
    Map,
    /// Inside an array: newline, `,` or `]`.
    Array,
}

/// The outcome of [`Lexer::value_end`].
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// A separator: another key or item may follow.
    Next,
    /// The enclosing `}` or `]` was consumed; carries its position.
    Close(Pos),
    /// End of input (only at the top level).
    Eof,
}

/// Characters that end an unquoted value that started with a digit. `]` is
/// not in nats-server's list (there `[1, 2]` lexes its last item as the string
/// `2]` and then fails); accepting it only makes such arrays work.
fn ends_number(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(c, '\n' | '\r' | '}' | ']' | ';' | ',' | ' ' | '\t'),
    }
}

/// Characters that end an unquoted string value.
fn ends_unquoted(c: char) -> bool {
    matches!(c, '\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t')
}

fn is_size_suffix(c: char) -> bool {
    matches!(
        c,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

/// Renders a character for an error message (newlines made visible).
fn show(c: Option<char>) -> String {
    match c {
        None => "EOF".to_owned(),
        Some('\n') => "\\n".to_owned(),
        Some('\r') => "\\r".to_owned(),
        Some('\t') => "\\t".to_owned(),
        Some(c) => c.to_string(),
    }
}

/// The lexer: a cursor over the source that tracks line and column.
pub struct Lexer<'a> {
    src: &'a str,
    off: usize,
    line: usize,
    col: usize,
    file: Arc<PathBuf>,
}

impl<'a> Lexer<'a> {
    /// Starts lexing `src`; `file` is recorded in every position.
    pub fn new(src: &'a str, file: Arc<PathBuf>) -> Self {
        // A UTF-8 byte order mark (as some Windows editors write) is not part
        // of the first key.
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Lexer {
            src,
            off: 0,
            line: 1,
            col: 1,
            file,
        }
    }

    /// The position of the next character.
    pub fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.off..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.off..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.off += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err_at(&self, pos: Pos, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(Some(pos), None, msg)
    }

    fn err(&self, msg: impl Into<String>) -> ConfigError {
        self.err_at(self.pos(), msg)
    }

    /// Skips spaces and tabs (not newlines).
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// Skips all white space including newlines.
    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// True if a `#` or `//` comment starts here.
    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek2() == Some('/'),
            _ => false,
        }
    }

    /// Skips a comment up to (not including) the end of its line.
    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.bump();
        }
    }

    /// Skips white space (including newlines) and comments.
    fn skip_space_and_comments(&mut self) {
        loop {
            self.skip_space();
            if self.at_comment() {
                self.skip_comment();
            } else {
                break;
            }
        }
    }

    /// True if only white space and comments remain.
    pub fn rest_is_blank(&self) -> bool {
        let mut probe = Lexer {
            src: self.src,
            off: self.off,
            line: self.line,
            col: self.col,
            file: self.file.clone(),
        };
        probe.skip_space_and_comments();
        probe.peek().is_none()
    }

    /// Reads what may start an entry: a key, an `include`, the `}` closing
    /// the current block, `{` opening a wrapping block (top level only) or
    /// end of input.
    pub fn next_key(&mut self, ctx: KeyContext) -> Result<Spanned, ConfigError> {
        self.skip_space_and_comments();
        let pos = self.pos();
        let token = match self.peek() {
            None => Token::Eof,
            Some('}') => {
                self.bump();
                Token::MapEnd
            }
            Some('{') if ctx == KeyContext::Top => {
                self.bump();
                Token::MapStart
            }
            Some(c @ (':' | '=')) => {
                return Err(self.err(format!("Unexpected key separator '{c}'")));
            }
            Some(']') => {
                return Err(self.err("Unexpected array end ']' processing map."));
            }
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let start = self.off;
                loop {
                    match self.peek() {
                        None => {
                            return Err(self.err("Unexpected EOF processing quoted key."));
                        }
                        Some(c) if c == q => break,
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                let key = self.src[start..self.off].to_owned();
                self.bump();
                Token::Key(key)
            }
            Some(_) => {
                let start = self.off;
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || c == ':' || c == '=' {
                        break;
                    }
                    self.bump();
                }
                let key = &self.src[start..self.off];
                // `include` is a keyword only when white space follows it:
                // `include: x` is an ordinary key.
                if key.eq_ignore_ascii_case("include")
                    && self.peek().is_some_and(char::is_whitespace)
                {
                    return self.include_path();
                }
                Token::Key(key.to_owned())
            }
        };
        Ok(Spanned { token, pos })
    }

    /// Reads the path after `include`: quoted (no escapes) or bare.
    fn include_path(&mut self) -> Result<Spanned, ConfigError> {
        self.skip_blanks();
        let pos = self.pos();
        let what = match self.peek() {
            None => Some("EOF"),
            Some('[') => Some("start of an array"),
            Some('{') => Some("start of a map"),
            Some('(') => Some("start of a block"),
            Some(c) if c.is_ascii_digit() || c == '-' => Some("start of a number"),
            Some('\\') => Some("escape sequence"),
            Some('\n' | '\r') => Some("new line"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(self.err(format!("Expected include value but found {what}")));
        }
        let path = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let start = self.off;
                loop {
                    match self.peek() {
                        None => return Err(self.err("Unexpected EOF in quoted include")),
                        Some(c) if c == q => break,
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                let path = self.src[start..self.off].to_owned();
                self.bump();
                path
            }
            _ => {
                let start = self.off;
                while let Some(c) = self.peek() {
                    if matches!(c, '\n' | '\r' | ';' | '}' | ' ' | '\t' | '\'') {
                        break;
                    }
                    self.bump();
                }
                let path = self.src[start..self.off].to_owned();
                // nats-server ends a bare include path at a `'` and drops it.
                if self.peek() == Some('\'') {
                    self.bump();
                }
                path
            }
        };
        Ok(Spanned {
            token: Token::Include(path),
            pos,
        })
    }

    /// Consumes what separates a key from its value: white space (newlines
    /// included, as in nats-server) and an optional `:` or `=`. Fails at end
    /// of input, since a key needs a value.
    pub fn key_separator(&mut self, key: &str) -> Result<(), ConfigError> {
        self.skip_space();
        match self.peek() {
            None => Err(self.err(format!("config is invalid: key {key:?} has no value"))),
            Some(':' | '=') => {
                self.bump();
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }

    /// Reads one value: a scalar, or the opening `[` / `{` of a container.
    /// Spaces and tabs before it are skipped; a newline there is an error.
    pub fn value(&mut self) -> Result<Spanned, ConfigError> {
        self.skip_blanks();
        let pos = self.pos();
        let token = match self.peek() {
            Some('[') => {
                self.bump();
                Token::ArrayStart
            }
            Some('{') => {
                self.bump();
                Token::MapStart
            }
            Some('\'') => {
                self.bump();
                self.single_quoted()?
            }
            Some('"') => {
                self.bump();
                self.double_quoted()?
            }
            Some('(') => {
                self.bump();
                self.block()?
            }
            Some('-') => {
                self.bump();
                self.negative_number()?
            }
            Some(c) if c.is_ascii_digit() => self.digit_led()?,
            Some('.') => return Err(self.err("Floats must start with a digit")),
            Some('\n' | '\r') => return Err(self.err("Expected value but found new line")),
            // Anything else, end of input included (giving an empty string,
            // as nats-server does for `foo =` at the end of a file).
            _ => self.unquoted()?,
        };
        Ok(Spanned { token, pos })
    }

    /// Reads the next array item or the closing `]`.
    pub fn array_item(&mut self) -> Result<Spanned, ConfigError> {
        self.skip_space_and_comments();
        match self.peek() {
            None => Err(self.err("Unexpected EOF processing array.")),
            Some(']') => {
                let pos = self.pos();
                self.bump();
                Ok(Spanned {
                    token: Token::ArrayEnd,
                    pos,
                })
            }
            Some(',') => Err(self.err("Unexpected array value terminator ','.")),
            Some(_) => self.value(),
        }
    }

    /// Consumes what follows a value: blanks, a comment, and then a
    /// terminator allowed in `ctx`.
    pub fn value_end(&mut self, ctx: EndContext) -> Result<End, ConfigError> {
        loop {
            self.skip_blanks();
            if self.at_comment() {
                // The comment runs to the end of the line, which ends the
                // value.
                self.skip_comment();
                continue;
            }
            let pos = self.pos();
            let c = self.peek();
            match (ctx, c) {
                (_, Some('\n' | '\r')) => {
                    self.bump();
                    return Ok(End::Next);
                }
                (EndContext::Array, Some(',')) => {
                    self.bump();
                    return Ok(End::Next);
                }
                (EndContext::Array, Some(']')) => {
                    self.bump();
                    return Ok(End::Close(pos));
                }
                (EndContext::Array, None) => {
                    return Err(self.err("Unexpected EOF processing array."));
                }
                (EndContext::Array, _) => {
                    return Err(self.err(format!(
                        "Expected an array value terminator ',' or an array terminator ']', but got '{}' instead.",
                        show(c)
                    )));
                }
                (_, Some(';' | ',')) => {
                    self.bump();
                    return Ok(End::Next);
                }
                // nats-server accepts a `}` as a top-level value terminator.
                (EndContext::Top, Some('}')) => {
                    self.bump();
                    return Ok(End::Next);
                }
                (EndContext::Top, None) => return Ok(End::Eof),
                (EndContext::Top, _) => {
                    return Err(self.err(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                        show(c)
                    )));
                }
                (_, Some('}')) => {
                    self.bump();
                    return Ok(End::Close(pos));
                }
                (EndContext::Map, None) => {
                    return Err(self.err("Unexpected EOF processing map."));
                }
                (EndContext::Wrapped, None) => {
                    return Err(self.err("Unexpected EOF: missing '}' closing the block."));
                }
                (EndContext::Map, _) => {
                    return Err(self.err(format!(
                        "Expected a map value terminator ',' or a map terminator '}}', but got '{}' instead.",
                        show(c)
                    )));
                }
                (EndContext::Wrapped, _) => {
                    return Err(self.err(format!(
                        "Expected a block-level value to end with a new line, comment or '}}', but got '{}' instead.",
                        show(c)
                    )));
                }
            }
        }
    }

    /// `'raw'`: everything up to the next `'`, newlines included.
    fn single_quoted(&mut self) -> Result<Token, ConfigError> {
        let start = self.off;
        loop {
            match self.peek() {
                None => return Err(self.err("Unexpected EOF.")),
                Some('\'') => break,
                Some(_) => {
                    self.bump();
                }
            }
        }
        let s = self.src[start..self.off].to_owned();
        self.bump();
        Ok(Token::String(s))
    }

    /// `"text"` with escapes; may span lines.
    fn double_quoted(&mut self) -> Result<Token, ConfigError> {
        let mut buf = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("Unexpected EOF.")),
                Some('"') => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    self.escape(&mut buf)?;
                }
                Some(c) => {
                    self.bump();
                    push_char(&mut buf, c);
                }
            }
        }
        self.finish_string(buf).map(Token::String)
    }

    /// Turns escaped bytes into a string. `\xHH` can produce any byte, but a
    /// Rust string must be UTF-8; rather than silently altering a password,
    /// refuse.
    fn finish_string(&self, buf: Vec<u8>) -> Result<String, ConfigError> {
        String::from_utf8(buf)
            .map_err(|_| self.err("string contains \\x escapes that do not form valid UTF-8"))
    }

    /// Reads one escape; the `\` is already consumed. nats-server allows
    /// `\xHH \t \n \r \" \\`; `\uXXXX` and `\UXXXXXXXX` are accepted as an
    /// rnats extension.
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfigError> {
        // Errors point at the backslash, one column back on the same line.
        let mut pos = self.pos();
        pos.col = pos.col.saturating_sub(1).max(1);
        let c = self.bump();
        match c {
            Some('t') => buf.push(b'\t'),
            Some('n') => buf.push(b'\n'),
            Some('r') => buf.push(b'\r'),
            Some('"') => buf.push(b'"'),
            Some('\\') => buf.push(b'\\'),
            Some('x') => {
                let hex = self.hex_digits(2)?;
                buf.push(hex as u8);
            }
            Some('u') => {
                let cp = self.hex_digits(4)?;
                let ch = char::from_u32(cp).ok_or_else(|| {
                    self.err_at(pos, format!("invalid unicode escape \\u{cp:04X}"))
                })?;
                push_char(buf, ch);
            }
            Some('U') => {
                let cp = self.hex_digits(8)?;
                let ch = char::from_u32(cp).ok_or_else(|| {
                    self.err_at(pos, format!("invalid unicode escape \\U{cp:08X}"))
                })?;
                push_char(buf, ch);
            }
            other => {
                return Err(self.err_at(
                    pos,
                    format!(
                        "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\uXXXX, \\UXXXXXXXX, \\t, \\n, \\r, \\\", \\\\.",
                        show(other)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reads exactly `n` hex digits.
    fn hex_digits(&mut self, n: usize) -> Result<u32, ConfigError> {
        let mut v: u32 = 0;
        let mut seen = String::new();
        for _ in 0..n {
            match self.peek() {
                None | Some('\n' | '\r') => {
                    return Err(self.err(format!(
                        "Expected {n} hexadecimal digits after the escape, but hit end of line"
                    )));
                }
                Some(c) => {
                    self.bump();
                    seen.push(c);
                    match c.to_digit(16) {
                        Some(d) => v = (v << 4) | d,
                        None => {
                            return Err(self.err(format!(
                                "Expected {n} hexadecimal digits after the escape, but got '{seen}'"
                            )));
                        }
                    }
                }
            }
        }
        Ok(v)
    }

    /// `( ... )`: raw text up to a `)` alone on its line. The text keeps the
    /// newline after `(` and the one before `)`, as in nats-server.
    fn block(&mut self) -> Result<Token, ConfigError> {
        let start = self.off;
        loop {
            match self.peek() {
                None => return Err(self.err("Unexpected EOF processing block.")),
                Some(')') => {
                    let end = self.off;
                    let after_nl = self.src[..end].ends_with('\n');
                    self.bump();
                    let closes = match self.peek() {
                        None | Some('\n') => true,
                        // Accept CRLF files too.
                        Some('\r') => self.peek2() == Some('\n'),
                        _ => false,
                    };
                    if after_nl && closes {
                        return Ok(Token::String(self.src[start..end].to_owned()));
                    }
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    /// A value starting with a digit: integer (with optional size suffix),
    /// float, ISO-8601 datetime, IP address or an unquoted string such as
    /// `10s` or `127.0.0.1:4222`.
    fn digit_led(&mut self) -> Result<Token, ConfigError> {
        let start = self.off;
        let mut digits = 0usize;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            digits += 1;
        }
        match self.peek() {
            Some('-') => {
                if digits != 4 {
                    self.bump();
                    return Err(self.err("All ISO8601 dates must be in full Zulu form."));
                }
                self.bump();
                self.datetime(start)
            }
            Some('.') => {
                self.bump();
                self.fraction(start)
            }
            Some(c) if is_size_suffix(c) => {
                self.bump();
                self.size_suffix(start)
            }
            c if ends_number(c) => Ok(Token::Integer(self.src[start..self.off].to_owned())),
            None => Ok(Token::Integer(self.src[start..self.off].to_owned())),
            Some(c) => {
                // Not a number after all: an unquoted string. Like
                // nats-server, the character that decided it is taken
                // literally (even a backslash).
                self.bump();
                let mut prefix = self.src[start..self.off - c.len_utf8()].to_owned();
                prefix.push(c);
                self.unquoted_tail(prefix)
            }
        }
    }

    /// After `-`: an integer or float, never a string.
    fn negative_number(&mut self) -> Result<Token, ConfigError> {
        let start = self.off - 1;
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.err("Floats must start with a digit, not '.'.")),
            c => return Err(self.err(format!("Expected a digit but got '{}'.", show(c)))),
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        match self.peek() {
            Some('.') => {
                self.bump();
                self.fraction(start)
            }
            Some(c) if is_size_suffix(c) => {
                self.bump();
                self.size_suffix(start)
            }
            _ => Ok(Token::Integer(self.src[start..self.off].to_owned())),
        }
    }

    /// After `digits.`: a float, or an IP address like `127.0.0.1:4222`
    /// (kept as a string) when a second `.` follows.
    fn fraction(&mut self, start: usize) -> Result<Token, ConfigError> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            c => {
                return Err(self.err(format!(
                    "Floats must have a digit after the '.', but got '{}' instead.",
                    show(c)
                )));
            }
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
            {
                self.bump();
            }
            return Ok(Token::String(self.src[start..self.off].to_owned()));
        }
        Ok(Token::Float(self.src[start..self.off].to_owned()))
    }

    /// After `digits<k|m|g|t|p|e>`: any run of `b`/`i` and then, if the value
    /// ends there, an integer; otherwise an unquoted string (`1Ghz`).
    fn size_suffix(&mut self, start: usize) -> Result<Token, ConfigError> {
        while matches!(self.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.bump();
        }
        let c = self.peek();
        if ends_number(c) || c.is_some_and(|c| c.is_ascii_digit()) {
            return Ok(Token::Integer(self.src[start..self.off].to_owned()));
        }
        let prefix = self.src[start..self.off].to_owned();
        self.unquoted_tail(prefix)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`; `YYYY-` is already consumed.
    fn datetime(&mut self, start: usize) -> Result<Token, ConfigError> {
        for f in "00-00T00:00:00Z".chars() {
            let c = self.peek();
            if f == '0' {
                if !c.is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.err(format!(
                        "Expected digit in ISO8601 datetime, but found '{}' instead.",
                        show(c)
                    )));
                }
            } else if c != Some(f) {
                return Err(self.err(format!(
                    "Expected '{f}' in ISO8601 datetime, but found '{}' instead.",
                    show(c)
                )));
            }
            self.bump();
        }
        Ok(Token::DateTime(self.src[start..self.off].to_owned()))
    }

    /// An unquoted value not starting with a digit: a string, a boolean or a
    /// `$variable`.
    fn unquoted(&mut self) -> Result<Token, ConfigError> {
        let mut buf = Vec::new();
        // Escapes and a closing `'` make it a plain string, as in nats-server.
        let mut plain = false;
        while let Some(c) = self.peek() {
            if ends_unquoted(c) {
                break;
            }
            self.bump();
            match c {
                '\\' => {
                    plain = true;
                    self.escape(&mut buf)?;
                }
                // nats-server ends an unquoted string at a `'` and drops it.
                '\'' => {
                    plain = true;
                    break;
                }
                c => push_char(&mut buf, c),
            }
        }
        let s = self.finish_string(buf)?;
        if plain {
            return Ok(Token::String(s));
        }
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => return Ok(Token::Bool(true)),
            "false" | "no" | "off" => return Ok(Token::Bool(false)),
            _ => {}
        }
        if let Some(name) = s.strip_prefix('$') {
            return Ok(Token::Variable(name.to_owned()));
        }
        Ok(Token::String(s))
    }

    /// The rest of an unquoted string that began as a number; it is never a
    /// boolean or variable.
    fn unquoted_tail(&mut self, prefix: String) -> Result<Token, ConfigError> {
        let mut buf = prefix.into_bytes();
        while let Some(c) = self.peek() {
            if ends_unquoted(c) {
                break;
            }
            self.bump();
            match c {
                '\\' => self.escape(&mut buf)?,
                '\'' => break,
                c => push_char(&mut buf, c),
            }
        }
        self.finish_string(buf).map(Token::String)
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexer(src: &str) -> Lexer<'_> {
        Lexer::new(src, Arc::new(PathBuf::from("t.conf")))
    }

    fn value_of(src: &str) -> Token {
        lexer(src).value().unwrap().token
    }

    #[test]
    fn scalar_values() {
        assert_eq!(value_of("123"), Token::Integer("123".into()));
        assert_eq!(value_of("-123"), Token::Integer("-123".into()));
        assert_eq!(value_of("1k"), Token::Integer("1k".into()));
        assert_eq!(value_of("-1GB "), Token::Integer("-1GB".into()));
        assert_eq!(value_of("64MiB"), Token::Integer("64MiB".into()));
        assert_eq!(value_of("1Ghz"), Token::String("1Ghz".into()));
        assert_eq!(value_of("2Pie"), Token::String("2Pie".into()));
        assert_eq!(value_of("-2Pie"), Token::String("-2Pie".into()));
        assert_eq!(value_of("3Mbs,"), Token::String("3Mbs".into()));
        assert_eq!(value_of("5Gø"), Token::String("5Gø".into()));
        assert_eq!(value_of("2.5"), Token::Float("2.5".into()));
        assert_eq!(value_of("-0.5"), Token::Float("-0.5".into()));
        assert_eq!(
            value_of("127.0.0.1:4222"),
            Token::String("127.0.0.1:4222".into())
        );
        assert_eq!(value_of("3xyz"), Token::String("3xyz".into()));
        assert_eq!(value_of("10s"), Token::String("10s".into()));
        assert_eq!(value_of("500ms"), Token::String("500ms".into()));
        // The trap nats-server users know: 2m is two million.
        assert_eq!(value_of("2m"), Token::Integer("2m".into()));
        assert_eq!(
            value_of("2016-05-04T18:53:41Z"),
            Token::DateTime("2016-05-04T18:53:41Z".into())
        );
        assert_eq!(value_of("TRUE"), Token::Bool(true));
        assert_eq!(value_of("off"), Token::Bool(false));
        assert_eq!(value_of("$foo"), Token::Variable("foo".into()));
        assert_eq!(value_of(r"\\true"), Token::String(r"\true".into()));
        assert_eq!(value_of(r"\\$var"), Token::String(r"\$var".into()));
        assert_eq!(value_of(":4222"), Token::String(":4222".into()));
        assert_eq!(value_of("bar' "), Token::String("bar".into()));
        assert_eq!(value_of(r"\x65"), Token::String("e".into()));
        assert_eq!(value_of(""), Token::String("".into()));
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            value_of(r#""a\tb\n\r\"\\\x41""#),
            Token::String("a\tb\n\r\"\\A".into())
        );
        assert_eq!(
            value_of(r#""\u00e9\U0001F600""#),
            Token::String("é😀".into())
        );
        assert_eq!(value_of(r"'raw\n$x'"), Token::String(r"raw\n$x".into()));
        assert_eq!(value_of("\"$x\""), Token::String("$x".into()));
        assert_eq!(value_of("'a\nb'"), Token::String("a\nb".into()));
        assert_eq!(value_of(r#""\xc3\xa9""#), Token::String("é".into()));
    }

    #[test]
    fn bad_values_error_with_position() {
        let e = lexer("  \\y").value().unwrap_err();
        assert!(e.message.starts_with("Invalid escape character 'y'"));
        assert_eq!(e.pos.unwrap().col, 3);
        let e = lexer(".5").value().unwrap_err();
        assert_eq!(e.message, "Floats must start with a digit");
        let e = lexer("-x").value().unwrap_err();
        assert_eq!(e.message, "Expected a digit but got 'x'.");
        let e = lexer("12-34").value().unwrap_err();
        assert_eq!(e.message, "All ISO8601 dates must be in full Zulu form.");
        let e = lexer("2016-05-04X").value().unwrap_err();
        assert!(e.message.starts_with("Expected 'T' in ISO8601"));
        let e = lexer("1.x").value().unwrap_err();
        assert!(e.message.starts_with("Floats must have a digit after"));
        let e = lexer("\"abc").value().unwrap_err();
        assert_eq!(e.message, "Unexpected EOF.");
        let e = lexer("'abc").value().unwrap_err();
        assert_eq!(e.message, "Unexpected EOF.");
        let e = lexer("\n1").value().unwrap_err();
        assert_eq!(e.message, "Expected value but found new line");
        let e = lexer(r#""\x4""#).value().unwrap_err();
        assert!(e.message.contains("hexadecimal"));
        let e = lexer(r#""\xff""#).value().unwrap_err();
        assert!(e.message.contains("UTF-8"));
        let e = lexer(r#""\ud800""#).value().unwrap_err();
        assert!(e.message.contains("unicode"));
    }

    #[test]
    fn block_strings() {
        assert_eq!(
            value_of("(\n1234567890\n)\n"),
            Token::String("\n1234567890\n".into())
        );
        assert_eq!(
            value_of("(\n  12(34)56\n  (\n    7890\n  )\n)"),
            Token::String("\n  12(34)56\n  (\n    7890\n  )\n".into())
        );
        assert_eq!(value_of("(\nx\n)\r\n"), Token::String("\nx\n".into()));
        let e = lexer("(\n  foo = bar\n").value().unwrap_err();
        assert_eq!(e.message, "Unexpected EOF processing block.");
    }

    #[test]
    fn keys_and_includes() {
        let mut lx = lexer("  foo = 1");
        let k = lx.next_key(KeyContext::Top).unwrap();
        assert_eq!(k.token, Token::Key("foo".into()));
        assert_eq!((k.pos.line, k.pos.col), (1, 3));
        let mut lx = lexer("\"a b\": 1");
        assert_eq!(
            lx.next_key(KeyContext::Map).unwrap().token,
            Token::Key("a b".into())
        );
        let mut lx = lexer("include 'users.conf'");
        assert_eq!(
            lx.next_key(KeyContext::Top).unwrap().token,
            Token::Include("users.conf".into())
        );
        let mut lx = lexer("INCLUDE users.conf}");
        assert_eq!(
            lx.next_key(KeyContext::Map).unwrap().token,
            Token::Include("users.conf".into())
        );
        let mut lx = lexer("include: x");
        assert_eq!(
            lx.next_key(KeyContext::Top).unwrap().token,
            Token::Key("include".into())
        );
        let mut lx = lexer("include 1.conf");
        assert!(lx.next_key(KeyContext::Top).is_err());
        let mut lx = lexer("# c\n// d\n}");
        assert_eq!(lx.next_key(KeyContext::Map).unwrap().token, Token::MapEnd);
        let mut lx = lexer("= 1");
        assert!(lx.next_key(KeyContext::Top).is_err());
    }

    #[test]
    fn value_terminators() {
        let mut lx = lexer("  # comment\n");
        assert_eq!(lx.value_end(EndContext::Top).unwrap(), End::Next);
        let mut lx = lexer(" ; x");
        assert_eq!(lx.value_end(EndContext::Map).unwrap(), End::Next);
        let mut lx = lexer(" ]");
        assert!(matches!(
            lx.value_end(EndContext::Array).unwrap(),
            End::Close(_)
        ));
        let mut lx = lexer("");
        assert_eq!(lx.value_end(EndContext::Top).unwrap(), End::Eof);
        assert!(lexer("").value_end(EndContext::Map).is_err());
        assert!(lexer(" x").value_end(EndContext::Top).is_err());
        assert!(lexer(";").value_end(EndContext::Array).is_err());
    }
}
