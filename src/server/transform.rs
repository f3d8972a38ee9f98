//! Subject transforms: how a subject is renamed when it crosses an import
//! (`prefix`, `to`, service `to`) or a mapping.
//!
//! A transform has a source pattern and a destination template. The
//! destination refers to the source's wildcard tokens by position, as
//! `$1` / `{{wildcard(1)}}`, or simply by repeating `*` / `>` in order (what
//! nats-server does for import subjects written with plain wildcards).
//! Transforms are built once, when the import is set up; applying one is a
//! token walk and one string build.

use std::fmt;

/// One part of a destination template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The n-th (0-based) wildcard token of the source.
    Wildcard(usize),
    /// What the source's trailing `>` matched (one or more tokens).
    Rest,
}

/// Why a transform could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError(pub String);

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A source pattern and the destination a matching subject is renamed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    source: Vec<String>,
    /// Destination tokens, each made of parts.
    dest: Vec<Vec<Part>>,
}

impl Transform {
    /// Builds the transform renaming subjects matching `source` to `dest`.
    ///
    /// # Errors
    /// A destination that refers to a wildcard the source does not have, or
    /// uses a function imports do not support.
    pub fn new(source: &str, dest: &str) -> Result<Transform, TransformError> {
        if !crate::subject::is_valid_subject(source) || !crate::subject::is_valid_subject(dest) {
            return Err(TransformError("invalid subject".into()));
        }
        let source: Vec<String> = source.split('.').map(str::to_owned).collect();
        let wildcards = source.iter().filter(|t| *t == "*").count();
        let has_rest = source.last().is_some_and(|t| t == ">");
        let mut next_positional = 0;
        let mut out = Vec::new();
        for tok in dest.split('.') {
            let parts = match tok {
                "*" => {
                    if next_positional >= wildcards {
                        return Err(TransformError(format!(
                            "destination {dest:?} has more wildcards than {:?}",
                            source.join(".")
                        )));
                    }
                    next_positional += 1;
                    vec![Part::Wildcard(next_positional - 1)]
                }
                ">" => {
                    if !has_rest {
                        return Err(TransformError(format!(
                            "destination {dest:?} uses '>' but the source has none"
                        )));
                    }
                    vec![Part::Rest]
                }
                _ => parse_token(tok, wildcards)?,
            };
            out.push(parts);
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

    /// The destination pattern (wildcards in place of references), as a
    /// subscription subject: what an importer subscribes to.
    pub fn dest_pattern(&self) -> String {
        let mut s = String::new();
        for (i, tok) in self.dest.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for p in tok {
                match p {
                    Part::Literal(l) => s.push_str(l),
                    Part::Wildcard(_) => s.push('*'),
                    Part::Rest => s.push('>'),
                }
            }
        }
        s
    }

    /// Renames `subject`, or `None` when it does not match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        let mut captured: smallvec_like::Captures<'_> = Default::default();
        let mut toks = subject.split('.');
        let mut rest_start = None;
        let mut offset = 0usize;
        for (i, want) in self.source.iter().enumerate() {
            if want == ">" && i + 1 == self.source.len() {
                if offset > subject.len() {
                    return None;
                }
                rest_start = Some(offset);
                break;
            }
            let tok = toks.next()?;
            if tok.is_empty() {
                return None;
            }
            offset += tok.len() + 1;
            if want == "*" {
                captured.push(tok);
            } else if want != tok {
                return None;
            }
        }
        let rest = match rest_start {
            Some(start) => Some(&subject[start..]),
            None => {
                if toks.next().is_some() {
                    return None;
                }
                None
            }
        };
        let mut out = String::with_capacity(subject.len() + 16);
        for (i, tok) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for p in tok {
                match p {
                    Part::Literal(l) => out.push_str(l),
                    Part::Wildcard(n) => out.push_str(captured.get(*n)?),
                    Part::Rest => out.push_str(rest?),
                }
            }
        }
        Some(out)
    }
}

/// Parses one destination token: literal text with `$n` or
/// `{{wildcard(n)}}` references (1-based).
fn parse_token(tok: &str, wildcards: usize) -> Result<Vec<Part>, TransformError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let b = tok.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = tok[start..end].parse().unwrap_or(0);
            push_ref(&mut parts, &mut lit, n, wildcards)?;
            i = end;
        } else if tok[i..].starts_with("{{") {
            let Some(close) = tok[i..].find("}}") else {
                return Err(TransformError(format!("unterminated function in {tok:?}")));
            };
            let inner = tok[i + 2..i + close].trim();
            let Some(args) = inner
                .strip_prefix("wildcard")
                .map(str::trim_start)
                .and_then(|s| s.strip_prefix('('))
                .and_then(|s| s.strip_suffix(')'))
            else {
                return Err(TransformError(format!(
                    "function {inner:?} is not supported here"
                )));
            };
            let n: usize = args
                .trim()
                .parse()
                .map_err(|_| TransformError(format!("invalid wildcard index in {inner:?}")))?;
            push_ref(&mut parts, &mut lit, n, wildcards)?;
            i += close + 2;
        } else {
            let ch = tok[i..].chars().next().unwrap_or('?');
            lit.push(ch);
            i += ch.len_utf8();
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Literal(lit));
    }
    Ok(parts)
}

fn push_ref(
    parts: &mut Vec<Part>,
    lit: &mut String,
    n: usize,
    wildcards: usize,
) -> Result<(), TransformError> {
    if n == 0 || n > wildcards {
        return Err(TransformError(format!(
            "wildcard index {n} out of range (the source has {wildcards})"
        )));
    }
    if !lit.is_empty() {
        parts.push(Part::Literal(std::mem::take(lit)));
    }
    parts.push(Part::Wildcard(n - 1));
    Ok(())
}

/// A tiny inline vector of captured tokens (subjects rarely have more than a
/// few wildcards), so applying a transform does not allocate for them.
mod smallvec_like {
    #[derive(Default)]
    pub struct Captures<'a> {
        inline: [&'a str; 8],
        len: usize,
        spill: Vec<&'a str>,
    }

    impl<'a> Captures<'a> {
        pub fn push(&mut self, s: &'a str) {
            if self.len < self.inline.len() {
                self.inline[self.len] = s;
            } else {
                self.spill.push(s);
            }
            self.len += 1;
        }

        pub fn get(&self, i: usize) -> Option<&'a str> {
            if i >= self.len {
                None
            } else if i < self.inline.len() {
                Some(self.inline[i])
            } else {
                self.spill.get(i - self.inline.len()).copied()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = Transform::new("w.*", "wm.pre-{{wildcard(1)}}-post").unwrap();
        assert_eq!(t.apply("w.x").as_deref(), Some("wm.pre-x-post"));
        assert!(Transform::new("w.*", "wm.$2").is_err());
        assert!(Transform::new("w.*", "{{partition(2,1)}}").is_err());
    }

    #[test]
    fn positional_wildcards() {
        let t = Transform::new("local.*.svc", "svc.*.req").unwrap();
        assert_eq!(t.apply("local.X.svc").as_deref(), Some("svc.X.req"));
        let t = Transform::new("a.*.>", "b.*.>").unwrap();
        assert_eq!(t.apply("a.1.2.3").as_deref(), Some("b.1.2.3"));
        assert!(Transform::new("a.*", "b.*.*").is_err());
        assert!(Transform::new("a.*", "b.>").is_err());
    }
}
