//! Subject transforms: how a subject is renamed when it crosses an import
//! (`prefix`, `to`, service `to`) or a subject mapping.
//!
//! A transform has a source pattern and a destination template. Each
//! destination token is either literal text or, as a whole token, a
//! placeholder: `$n` / `{{wildcard(n)}}` (the n-th `*` of the source), or for
//! mappings one of nats-server's mapping functions (`partition`, `split`,
//! `splitFromLeft`, `splitFromRight`, `sliceFromLeft`, `sliceFromRight`,
//! `left`, `right`, `random`). No destination token may carry whitespace or
//! control bytes outside a function's arguments: what a transform writes
//! ends up in MSG lines. A token that only contains a placeholder among other text is
//! literal, as in nats-server. Import destinations may also repeat `*` / `>`
//! in order. Transforms are built once, when the import or mapping is set up;
//! applying one is a token walk and one string build.

use std::fmt;

/// One token of a destination template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The source token at this position (a `*` of the source).
    Wildcard(usize),
    /// What the source's trailing `>` matched (one or more tokens).
    Rest,
    /// FNV-1a of the given source tokens concatenated (of the whole
    /// subject, dots included, when none are given), modulo `buckets`.
    Partition {
        buckets: u32,
        tokens: Vec<usize>,
    },
    SplitFromLeft {
        token: usize,
        at: i32,
    },
    SplitFromRight {
        token: usize,
        at: i32,
    },
    SliceFromLeft {
        token: usize,
        size: i32,
    },
    SliceFromRight {
        token: usize,
        size: i32,
    },
    Split {
        token: usize,
        sep: String,
    },
    Left {
        token: usize,
        len: i32,
    },
    Right {
        token: usize,
        len: i32,
    },
    Random {
        ceiling: u32,
    },
}

/// Why a transform could not be built, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError(pub String);

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const INVALID_DEST: &str = "invalid mapping destination";

fn dest_err(why: &str, token: &str) -> TransformError {
    if token.is_empty() {
        TransformError(format!("{INVALID_DEST}: {why}"))
    } else {
        TransformError(format!("{INVALID_DEST}: {why} in {token}"))
    }
}

fn bad_subject() -> TransformError {
    TransformError("invalid subject".into())
}

/// A source pattern and the destination a matching subject is renamed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    source: Vec<String>,
    dest: Vec<Part>,
}

/// Which placeholders a destination may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Imports: only wildcard references, every source wildcard used, and
    /// plain `*` / `>` stand for the source's wildcards in order.
    Import,
    /// Subject mappings: every mapping function.
    Mapping,
}

impl Transform {
    /// Builds the import transform renaming subjects matching `source` to
    /// `dest`.
    ///
    /// # Errors
    /// A destination that refers to a wildcard the source does not have,
    /// leaves one unused, or uses a mapping function other than `wildcard`.
    pub fn new(source: &str, dest: &str) -> Result<Transform, TransformError> {
        Transform::build(source, dest, Mode::Import)
    }

    /// Builds the transform of a subject mapping (`mappings {}`, the account
    /// JWT's `mappings`), checked as nats-server checks a mapping.
    ///
    /// # Errors
    /// nats-server's "invalid mapping destination" texts, or "invalid
    /// subject" when the destination has `*` tokens or its `>` does not
    /// match the source's.
    pub fn mapping(source: &str, dest: &str) -> Result<Transform, TransformError> {
        validate_mapping_dest(dest)?;
        Transform::build(source, dest, Mode::Mapping)
    }

    /// The identity mapping of `source` (what a weighted mapping adds for
    /// the weight its destinations leave over).
    pub fn identity(source: &str) -> Transform {
        let src: Vec<String> = source.split('.').map(str::to_owned).collect();
        let dest = src
            .iter()
            .enumerate()
            .map(|(i, t)| match t.as_str() {
                "*" => Part::Wildcard(i),
                ">" => Part::Rest,
                _ => Part::Literal(t.clone()),
            })
            .collect();
        Transform { source: src, dest }
    }

    fn build(source: &str, dest: &str, mode: Mode) -> Result<Transform, TransformError> {
        if !crate::subject::is_valid_subject(source) {
            return Err(bad_subject());
        }
        let dest_toks: Vec<&str> = dest.split('.').collect();
        if dest.is_empty() || dest_toks.iter().any(|t| t.is_empty()) {
            return Err(bad_subject());
        }
        let source: Vec<String> = source.split('.').map(str::to_owned).collect();
        // wildcard number (1-based) -> source token position
        let stars: Vec<usize> = (0..source.len()).filter(|&i| source[i] == "*").collect();
        let has_rest = source.last().is_some_and(|t| t == ">");
        let dest_rest = dest_toks.last() == Some(&">");
        if dest_toks[..dest_toks.len() - 1].contains(&">") || has_rest != dest_rest {
            return Err(match mode {
                Mode::Import if dest_rest => TransformError(format!(
                    "destination {dest:?} uses '>' but the source has none"
                )),
                _ => bad_subject(),
            });
        }
        let mut next_positional = 0;
        let mut used = 0;
        let mut out = Vec::with_capacity(dest_toks.len());
        for tok in dest_toks {
            let part = match tok {
                ">" => Part::Rest,
                "*" if mode == Mode::Import => {
                    let Some(&pos) = stars.get(next_positional) else {
                        return Err(TransformError(format!(
                            "destination {dest:?} has more wildcards than {:?}",
                            source.join(".")
                        )));
                    };
                    next_positional += 1;
                    used += 1;
                    Part::Wildcard(pos)
                }
                "*" => return Err(bad_subject()),
                _ => {
                    let (part, refs) = parse_placeholder(tok, &stars, has_rest)?;
                    if mode == Mode::Import && !matches!(part, Part::Literal(_) | Part::Wildcard(_))
                    {
                        return Err(dest_err(
                            "the only mapping function allowed for import transforms is {{Wildcard()}}",
                            tok,
                        ));
                    }
                    used += refs;
                    part
                }
            };
            out.push(part);
        }
        // Literal text goes into MSG lines as is.
        let dirty = |t: &str| t.bytes().any(|b| b <= b' ' || b == 0x7f);
        if out
            .iter()
            .any(|p| matches!(p, Part::Literal(l) if dirty(l)))
        {
            return Err(match mode {
                Mode::Import => bad_subject(),
                Mode::Mapping => dest_err("invalid transform", ""),
            });
        }
        if mode == Mode::Import && used < stars.len() {
            return Err(dest_err("not using all of the token wildcard(s)", dest));
        }
        Ok(Transform { source, dest: out })
    }

    /// A transform that prepends `prefix.` to every subject matching `source`.
    ///
    /// # Errors
    /// A prefix with wildcards.
    pub fn prefix(source: &str, prefix: &str) -> Result<Transform, TransformError> {
        let prefix = prefix.trim_end_matches('.');
        if !crate::subject::is_valid_literal_subject(prefix) {
            return Err(TransformError(
                "stream import prefix can not contain wildcard tokens".into(),
            ));
        }
        Transform::new(source, &format!("{prefix}.{source}"))
    }

    /// Whether the source has no wildcards (it matches one subject only).
    pub fn source_is_literal(&self) -> bool {
        !self.source.iter().any(|t| t == "*" || t == ">")
    }

    /// The source pattern as written.
    pub fn source(&self) -> String {
        self.source.join(".")
    }

    /// The destination pattern (wildcards in place of references), as a
    /// subscription subject: what an importer subscribes to.
    pub fn dest_pattern(&self) -> String {
        let mut s = String::new();
        for (i, tok) in self.dest.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            match tok {
                Part::Literal(l) => s.push_str(l),
                Part::Rest => s.push('>'),
                _ => s.push('*'),
            }
        }
        s
    }

    /// Renames `subject`, or `None` when it does not match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        let mut toks = Tokens::default();
        let mut rest_start = None;
        let mut offset = 0usize;
        let mut split = subject.split('.');
        for (i, want) in self.source.iter().enumerate() {
            if want == ">" && i + 1 == self.source.len() {
                if offset >= subject.len() {
                    return None;
                }
                rest_start = Some(offset);
                // Remaining tokens are reachable for functions too.
                for t in split.by_ref() {
                    toks.push(t);
                }
                break;
            }
            let tok = split.next()?;
            if tok.is_empty() {
                return None;
            }
            offset += tok.len() + 1;
            if want != "*" && want != tok {
                return None;
            }
            toks.push(tok);
        }
        if rest_start.is_none() && split.next().is_some() {
            return None;
        }
        let rest = rest_start.map(|s| &subject[s..]);
        let mut out = String::with_capacity(subject.len() + 16);
        for (i, part) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            render(part, &toks, subject, rest, &mut out)?;
        }
        Some(out)
    }
}

/// Appends one destination token.
fn render(
    part: &Part,
    toks: &Tokens<'_>,
    subject: &str,
    rest: Option<&str>,
    out: &mut String,
) -> Option<()> {
    use std::fmt::Write as _;
    match part {
        Part::Literal(l) => out.push_str(l),
        Part::Wildcard(i) => out.push_str(toks.get(*i)?),
        Part::Rest => out.push_str(rest?),
        Part::Partition { buckets, tokens } => {
            let mut h = Fnv1a::default();
            if tokens.is_empty() {
                h.write(subject.as_bytes());
            } else {
                for &i in tokens {
                    h.write(toks.get(i)?.as_bytes());
                }
            }
            let n = if *buckets == 0 { 0 } else { h.0 % buckets };
            let _ = write!(out, "{n}");
        }
        Part::SplitFromLeft { token, at } => {
            let t = toks.get(*token)?;
            match usize::try_from(*at) {
                Ok(at) if at > 0 && at < t.len() && t.is_char_boundary(at) => {
                    out.push_str(&t[..at]);
                    out.push('.');
                    out.push_str(&t[at..]);
                }
                _ => out.push_str(t),
            }
        }
        Part::SplitFromRight { token, at } => {
            let t = toks.get(*token)?;
            match usize::try_from(*at) {
                Ok(at) if at > 0 && at < t.len() && t.is_char_boundary(t.len() - at) => {
                    out.push_str(&t[..t.len() - at]);
                    out.push('.');
                    out.push_str(&t[t.len() - at..]);
                }
                _ => out.push_str(t),
            }
        }
        Part::SliceFromLeft { token, size } => {
            let t = toks.get(*token)?;
            match usize::try_from(*size) {
                Ok(size) if size > 0 && size < t.len() => {
                    let chunks: Vec<&[u8]> = t.as_bytes().chunks(size).collect();
                    push_chunks(&chunks, out);
                }
                _ => out.push_str(t),
            }
        }
        Part::SliceFromRight { token, size } => {
            let t = toks.get(*token)?;
            match usize::try_from(*size) {
                Ok(size) if size > 0 && size < t.len() => {
                    let b = t.as_bytes();
                    let head = b.len() % size;
                    let mut chunks: Vec<&[u8]> = Vec::new();
                    if head > 0 {
                        chunks.push(&b[..head]);
                    }
                    chunks.extend(b[head..].chunks(size));
                    push_chunks(&chunks, out);
                }
                _ => out.push_str(t),
            }
        }
        Part::Split { token, sep } => {
            // nats-server's rule: empty pieces vanish and never leave a
            // doubled or leading separator.
            let t = toks.get(*token)?;
            let pieces: Vec<&str> = if sep.is_empty() {
                // Go's strings.Split with an empty separator: one piece per
                // character.
                t.char_indices()
                    .map(|(i, c)| &t[i..i + c.len_utf8()])
                    .collect()
            } else {
                t.split(sep.as_str()).collect()
            };
            for (j, piece) in pieces.iter().enumerate() {
                out.push_str(piece);
                let next_non_empty = pieces.get(j + 1).is_some_and(|p| !p.is_empty());
                if next_non_empty && !(j == 0 && piece.is_empty()) {
                    out.push('.');
                }
            }
        }
        Part::Left { token, len } => {
            let t = toks.get(*token)?;
            match usize::try_from(*len) {
                Ok(n) if n > 0 && n < t.len() && t.is_char_boundary(n) => out.push_str(&t[..n]),
                _ => out.push_str(t),
            }
        }
        Part::Right { token, len } => {
            let t = toks.get(*token)?;
            match usize::try_from(*len) {
                Ok(n) if n > 0 && n < t.len() && t.is_char_boundary(t.len() - n) => {
                    out.push_str(&t[t.len() - n..])
                }
                _ => out.push_str(t),
            }
        }
        Part::Random { ceiling } => {
            let n = if *ceiling == 0 {
                0
            } else {
                rand::random::<u32>() % ceiling
            };
            let _ = write!(out, "{n}");
        }
    }
    Some(())
}

/// Joins byte chunks of a token with `.`; lossy only for a chunk boundary
/// inside a multi-byte character, which a subject token split by byte
/// counts can produce, as in nats-server.
fn push_chunks(chunks: &[&[u8]], out: &mut String) {
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(c));
    }
}

/// 32-bit FNV-1a, the hash nats-server partitions with (so a partition
/// number is the same on both servers).
#[derive(Clone, Copy)]
struct Fnv1a(u32);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0x811c_9dc5)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

/// The mapping functions nats-server accepts in a mapping destination, by
/// canonical name.
const FUNCTIONS: &[&str] = &[
    "left",
    "right",
    "partition",
    "wildcard",
    "splitFromLeft",
    "splitFromRight",
    "sliceFromLeft",
    "sliceFromRight",
    "split",
    "random",
];

/// nats-server matches function names with each camel-case hump in either
/// case (`[sS]plit[fF]rom[lL]eft`), the rest exactly.
fn name_is(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len()
        && name
            .chars()
            .zip(canonical.chars())
            .enumerate()
            .all(|(i, (a, c))| {
                if i == 0 || c.is_ascii_uppercase() {
                    a.eq_ignore_ascii_case(&c)
                } else {
                    a == c
                }
            })
}

/// A `{{ name(args) }}` token split into its name and raw argument text.
fn function_call(tok: &str) -> Option<(&str, &str)> {
    if tok.len() <= 4 || !tok.starts_with("{{") || !tok.ends_with("}}") {
        return None;
    }
    let inner = tok[2..tok.len() - 2].trim();
    let open = inner.find('(')?;
    let args = inner[open + 1..].trim_end().strip_suffix(')')?;
    Some((inner[..open].trim_end(), args))
}

/// What nats-server's mapping validation checks before building: no empty
/// token or token after `>`, known functions only, no whitespace in literal
/// tokens.
fn validate_mapping_dest(dest: &str) -> Result<(), TransformError> {
    let mut after_rest = false;
    for tok in dest.split('.') {
        if tok.is_empty() || after_rest {
            return Err(dest_err("invalid transform", tok));
        }
        if tok.len() > 4 && tok.starts_with("{{") && tok.ends_with("}}") {
            let known = function_call(tok)
                .is_some_and(|(name, _)| FUNCTIONS.iter().any(|f| name_is(name, f)));
            if !known {
                return Err(dest_err("unknown function", tok));
            }
            continue;
        }
        if tok == ">" {
            after_rest = true;
        } else if tok.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(dest_err("invalid transform", ""));
        }
    }
    Ok(())
}

/// Parses one destination token. Returns the part and how many source
/// wildcards it refers to. `stars` maps wildcard numbers (1-based) to source
/// token positions.
fn parse_placeholder(
    tok: &str,
    stars: &[usize],
    has_rest: bool,
) -> Result<(Part, usize), TransformError> {
    let wildcard = |n: i64, shown: &str| -> Result<usize, TransformError> {
        usize::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .and_then(|n| stars.get(n - 1).copied())
            .ok_or_else(|| {
                dest_err(
                    "wildcard index out of range",
                    &if stars.is_empty() && !has_rest {
                        shown.to_owned()
                    } else {
                        format!("{shown}: [{n}]")
                    },
                )
            })
    };
    if let Some(digits) = tok.strip_prefix('$') {
        // `$1`; anything else starting with `$` is literal (`$SYS`).
        return match digits.parse::<i64>() {
            Ok(n) => Ok((Part::Wildcard(wildcard(n, tok)?), 1)),
            _ => Ok((Part::Literal(tok.to_owned()), 0)),
        };
    }
    if !(tok.len() > 4 && tok.starts_with("{{") && tok.ends_with("}}")) {
        return Ok((Part::Literal(tok.to_owned()), 0));
    }
    let Some((name, raw)) = function_call(tok) else {
        return Err(dest_err("unknown function", tok));
    };
    let args: Vec<&str> = split_args(raw);
    let int = |s: &str| -> Result<i64, TransformError> {
        s.trim_matches(' ')
            .parse::<i64>()
            .map_err(|_| dest_err("function argument is invalid or in the wrong format", tok))
    };
    let i32_arg = |s: &str| -> Result<i32, TransformError> {
        i32::try_from(int(s)?)
            .map_err(|_| dest_err("function argument is invalid or in the wrong format", tok))
    };
    let not_enough = || dest_err("not enough arguments passed to the function", tok);
    let too_many = || dest_err("too many arguments passed to the function", tok);
    let index_and_int = || -> Result<(usize, i32), TransformError> {
        match args.len() {
            0 | 1 => Err(not_enough()),
            2 => Ok((wildcard(int(args[0])?, tok)?, i32_arg(args[1])?)),
            _ => Err(too_many()),
        }
    };
    // Functions other than random/partition need a wildcard source.
    let needs_wildcards = |part: Part, refs: usize| {
        if stars.is_empty() && !has_rest {
            Err(dest_err("wildcard index out of range", tok))
        } else {
            Ok((part, refs))
        }
    };
    if name_is(name, "wildcard") {
        return match args.as_slice() {
            [""] => Err(not_enough()),
            [a] => needs_wildcards(Part::Wildcard(wildcard(int(a)?, tok)?), 1),
            _ => Err(too_many()),
        };
    }
    if name_is(name, "partition") {
        let buckets = int(args[0])?;
        let buckets = u32::try_from(buckets)
            .ok()
            .filter(|&b| i32::try_from(b).is_ok())
            .ok_or_else(|| dest_err("function argument is invalid or in the wrong format", tok))?;
        let mut tokens = Vec::new();
        // With a literal source nats-server ignores the token arguments
        // and hashes the whole subject.
        if !stars.is_empty() || has_rest {
            for a in &args[1..] {
                tokens.push(wildcard(int(a)?, tok)?);
            }
        }
        let refs = tokens.len();
        return Ok((Part::Partition { buckets, tokens }, refs));
    }
    if name_is(name, "splitFromLeft") {
        let (token, at) = index_and_int()?;
        return needs_wildcards(Part::SplitFromLeft { token, at }, 1);
    }
    if name_is(name, "splitFromRight") {
        let (token, at) = index_and_int()?;
        return needs_wildcards(Part::SplitFromRight { token, at }, 1);
    }
    if name_is(name, "sliceFromLeft") {
        let (token, size) = index_and_int()?;
        return needs_wildcards(Part::SliceFromLeft { token, size }, 1);
    }
    if name_is(name, "sliceFromRight") {
        let (token, size) = index_and_int()?;
        return needs_wildcards(Part::SliceFromRight { token, size }, 1);
    }
    if name_is(name, "left") {
        let (token, len) = index_and_int()?;
        return needs_wildcards(Part::Left { token, len }, 1);
    }
    if name_is(name, "right") {
        let (token, len) = index_and_int()?;
        return needs_wildcards(Part::Right { token, len }, 1);
    }
    if name_is(name, "split") {
        return match args.len() {
            0 | 1 => Err(not_enough()),
            2 => {
                let token = wildcard(int(args[0])?, tok)?;
                let sep = args[1];
                if sep.contains(' ') || sep.contains('.') {
                    return Err(dest_err(
                        "function argument is invalid or in the wrong format",
                        tok,
                    ));
                }
                needs_wildcards(
                    Part::Split {
                        token,
                        sep: sep.to_owned(),
                    },
                    1,
                )
            }
            _ => Err(too_many()),
        };
    }
    if name_is(name, "random") {
        if args.len() != 1 {
            return Err(not_enough());
        }
        let ceiling = u32::try_from(int(args[0])?)
            .ok()
            .filter(|&c| i32::try_from(c).is_ok())
            .ok_or_else(|| dest_err("function argument is invalid or in the wrong format", tok))?;
        return Ok((Part::Random { ceiling }, 0));
    }
    Err(dest_err("unknown function", tok))
}

/// Splits function arguments on commas (spaces after a comma belong to
/// the separator, as nats-server's `,\s*`).
fn split_args(raw: &str) -> Vec<&str> {
    raw.split(',')
        .enumerate()
        .map(|(i, a)| if i == 0 { a } else { a.trim_start() })
        .collect()
}

/// The tokens of a subject being transformed, inline for the usual short
/// subject so applying a transform does not allocate for them.
#[derive(Default)]
struct Tokens<'a> {
    inline: [&'a str; 16],
    len: usize,
    spill: Vec<&'a str>,
}

impl<'a> Tokens<'a> {
    fn push(&mut self, s: &'a str) {
        if self.len < self.inline.len() {
            self.inline[self.len] = s;
        } else {
            self.spill.push(s);
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.len {
            None
        } else if i < self.inline.len() {
            Some(self.inline[i])
        } else {
            self.spill.get(i - self.inline.len()).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str, dest: &str, subject: &str) -> Option<String> {
        Transform::mapping(src, dest).unwrap().apply(subject)
    }

    fn map_err(src: &str, dest: &str) -> String {
        Transform::mapping(src, dest).unwrap_err().0
    }

    #[test]
    fn literal_rename() {
        let t = Transform::new("metrics.cpu", "imported.cpu").unwrap();
        assert_eq!(t.apply("metrics.cpu").as_deref(), Some("imported.cpu"));
        assert_eq!(t.apply("metrics.mem"), None);
        assert_eq!(t.apply("metrics.cpu.x"), None);
    }

    #[test]
    fn prefix_keeps_the_subject() {
        let t = Transform::prefix("events.>", "from_a").unwrap();
        assert_eq!(
            t.apply("events.user.created").as_deref(),
            Some("from_a.events.user.created")
        );
        assert_eq!(t.apply("events"), None);
        assert_eq!(t.dest_pattern(), "from_a.events.>");
        assert!(Transform::prefix("x", "a.*").is_err());
    }

    #[test]
    fn dollar_and_function_references() {
        let t = Transform::new("m.*.*", "mapped.$2.$1").unwrap();
        assert_eq!(t.apply("m.a.b").as_deref(), Some("mapped.b.a"));
        let t = Transform::new("w.*", "wm.{{wildcard(1)}}").unwrap();
        assert_eq!(t.apply("w.x").as_deref(), Some("wm.x"));
        assert!(Transform::new("w.*", "wm.$2").is_err());
        assert!(Transform::new("w.*", "{{partition(2,1)}}").is_err());
    }

    #[test]
    fn placeholders_are_whole_tokens() {
        // As in nats-server: text around a placeholder makes it literal,
        // so the import below leaves its wildcard unused.
        assert!(Transform::new("w.*", "wm.pre-$1").is_err());
        assert_eq!(
            map("w.*", "wm.pre-{{wildcard(1)}}", "w.x").as_deref(),
            Some("wm.pre-{{wildcard(1)}}")
        );
        assert_eq!(map("w.*", "$SYS.$1", "w.x").as_deref(), Some("$SYS.x"));
    }

    #[test]
    fn positional_wildcards() {
        let t = Transform::new("local.*.svc", "svc.*.req").unwrap();
        assert_eq!(t.apply("local.X.svc").as_deref(), Some("svc.X.req"));
        let t = Transform::new("a.*.>", "b.*.>").unwrap();
        assert_eq!(t.apply("a.1.2.3").as_deref(), Some("b.1.2.3"));
        assert!(Transform::new("a.*", "b.*.*").is_err());
        assert!(Transform::new("a.*", "b.>").is_err());
        assert_eq!(
            Transform::new("a.*.*", "b.$1").unwrap_err().0,
            "invalid mapping destination: not using all of the token wildcard(s) in b.$1"
        );
    }

    #[test]
    fn mapping_functions_match_nats_server() {
        assert_eq!(map("m.*.*", "x.$2.$1", "m.a.b").as_deref(), Some("x.b.a"));
        assert_eq!(map("foo", "bar", "foo").as_deref(), Some("bar"));
        assert_eq!(map("foo.>", "bar.>", "foo.a.b").as_deref(), Some("bar.a.b"));
        assert_eq!(
            map("foo.*.>", "bar.{{wildcard(1)}}.>", "foo.a.b.c").as_deref(),
            Some("bar.a.b.c")
        );
        // Not every wildcard has to be used by a mapping.
        assert_eq!(map("a.*.*", "b.$2", "a.1.2").as_deref(), Some("b.2"));
        assert_eq!(
            map("a.*", "{{SplitFromLeft(1,2)}}", "a.abcdef").as_deref(),
            Some("ab.cdef")
        );
        assert_eq!(
            map("a.*", "{{splitFromRight(1,2)}}", "a.abcdef").as_deref(),
            Some("abcd.ef")
        );
        assert_eq!(
            map("a.*", "{{splitFromLeft(1,9)}}", "a.abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            map("a.*", "{{sliceFromLeft(1,2)}}", "a.abcde").as_deref(),
            Some("ab.cd.e")
        );
        assert_eq!(
            map("a.*", "{{sliceFromRight(1,2)}}", "a.abcde").as_deref(),
            Some("a.bc.de")
        );
        assert_eq!(
            map("a.*", "{{ split(1,-) }}", "a.-x--y-").as_deref(),
            Some("x.y")
        );
        assert_eq!(map("a.*", "b.{{random(1)}}", "a.z").as_deref(), Some("b.0"));
        assert_eq!(map("a.*", "{{left(1,2)}}", "a.abcd").as_deref(), Some("ab"));
        assert_eq!(
            map("a.*", "{{Right(1,3)}}", "a.abcd").as_deref(),
            Some("bcd")
        );
        assert_eq!(
            map("a.*", "{{right(1,9)}}", "a.abcd").as_deref(),
            Some("abcd")
        );
        assert_eq!(
            map("a.*", "{{split(1,)}}", "a.xyz").as_deref(),
            Some("x.y.z")
        );
        // A `.` splits the destination before functions are read, so this
        // is two literal tokens, as in nats-server.
        assert_eq!(
            map("a.*", "{{split(1,.)}}", "a.xyz").as_deref(),
            Some("{{split(1,.)}}")
        );
    }

    #[test]
    fn partition_is_fnv1a_like_nats_server() {
        // FNV-1a 32 of "foo" is 0xa9f37ed7 (2851307223); mod 10 = 3.
        assert_eq!(
            map("p.*", "p.{{partition(10,1)}}.$1", "p.foo").as_deref(),
            Some("p.3.foo")
        );
        // The shorthand hashes the whole subject.
        let mut h = Fnv1a::default();
        h.write(b"p.foo");
        let want = format!("{}", h.0 % 7);
        assert_eq!(
            map("p.*", "{{partition(7)}}", "p.foo").as_deref(),
            Some(want.as_str())
        );
        // Several tokens are concatenated without a separator.
        let mut h = Fnv1a::default();
        h.write(b"ab");
        let want = format!("{}.x", h.0 % 5);
        assert_eq!(
            map("*.*.x", "{{partition(5,1,2)}}.x", "a.b.x").as_deref(),
            Some(want.as_str())
        );
    }

    #[test]
    fn mapping_errors_use_nats_server_texts() {
        assert_eq!(
            map_err("a.*", "b.{{foo(1)}}"),
            "invalid mapping destination: unknown function in {{foo(1)}}"
        );
        assert_eq!(
            map_err("a", "b.{{left(1,2)}}"),
            "invalid mapping destination: wildcard index out of range in {{left(1,2)}}"
        );
        assert_eq!(
            map_err("a.*", "b.$2"),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            map_err("a", "b.{{wildcard(1)}}"),
            "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"
        );
        assert_eq!(
            map_err("a.*", "{{wildcard()}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
        );
        assert_eq!(
            map_err("a.*", "{{wildcard(1,2)}}"),
            "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"
        );
        assert_eq!(
            map_err("a.*", "{{splitFromLeft(1)}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{splitFromLeft(1)}}"
        );
        assert_eq!(
            map_err("a.*", "{{split(1,a b)}}"),
            "invalid mapping destination: function argument is invalid or in the wrong format in {{split(1,a b)}}"
        );
        assert_eq!(map_err("a.*", "b.*"), "invalid subject");
        assert_eq!(map_err("a.>", "b"), "invalid subject");
        assert_eq!(
            map_err("a", "b..c"),
            "invalid mapping destination: invalid transform"
        );
        // A literal source may still partition or pick at random.
        assert!(Transform::mapping("a", "b.{{partition(3)}}").is_ok());
        assert!(Transform::mapping("a", "b.{{random(3)}}").is_ok());
    }

    #[test]
    fn destinations_never_carry_whitespace_or_control_bytes() {
        assert_eq!(Transform::new("a", "b c").unwrap_err().0, "invalid subject");
        assert_eq!(
            Transform::new("a", "b\x01").unwrap_err().0,
            "invalid subject"
        );
        assert_eq!(
            map_err("a", "b\x1b[2J"),
            "invalid mapping destination: invalid transform"
        );
        assert_eq!(
            map_err("a.*", "b.$1\x7f"),
            "invalid mapping destination: invalid transform"
        );
        // Spaces inside a function's arguments are fine.
        assert!(Transform::mapping("a.*", "{{ partition(3, 1) }}").is_ok());
    }

    #[test]
    fn identity_keeps_the_subject() {
        let t = Transform::identity("a.*.>");
        assert_eq!(t.apply("a.b.c.d").as_deref(), Some("a.b.c.d"));
        assert_eq!(t.apply("x.b.c"), None);
    }
}
