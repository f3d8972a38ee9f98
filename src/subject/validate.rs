//! Subject and token validation, matching and subset tests.
//!
//! Subjects are `.`-separated tokens. In a *subscription* subject a token that
//! is exactly `*` matches any single token and a last token that is exactly `>`
//! matches one or more trailing tokens. Tokens such as `foo*` or `b>` are plain
//! literal text, exactly as in nats-server.
//!
//! Everything here runs on the publish/subscribe hot path, so the functions
//! work directly on bytes or with `split('.')` and never allocate.

/// The partial wildcard token: matches exactly one token.
pub const PWC: &str = "*";
/// The full wildcard token: matches one or more trailing tokens.
pub const FWC: &str = ">";
/// The token separator.
pub const TSEP: char = '.';

/// Whitespace that may not appear anywhere in a subject. The protocol splits
/// arguments on whitespace, so a subject containing one could never be sent
/// back to a client intact.
#[inline]
/// Bytes no subject may contain: whitespace and every other ASCII control
/// byte (NUL, VT, FF, DEL …). A control byte in a subject would reach other
/// clients inside a MSG line, where their parsers may split it differently.
fn is_subject_ws(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

/// A subscription subject: non-empty tokens split on `.`, no whitespace,
/// `*` only as a whole token, `>` only as the whole last token.
///
/// Single pass over the bytes: this runs for every SUB.
pub fn is_valid_subject(subject: &str) -> bool {
    let b = subject.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut start = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        if c == b'.' {
            let len = i - start;
            // Empty token, or `>` followed by more tokens.
            if len == 0 || (len == 1 && b[start] == b'>') {
                return false;
            }
            start = i + 1;
        } else if is_subject_ws(c) {
            return false;
        }
        i += 1;
    }
    // Last token must be non-empty (catches a trailing `.`).
    b.len() > start
}

/// A publish subject: valid and without wildcard tokens.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && is_literal(subject)
}

/// True when the subject has no `*` or `>` token.
///
/// Only whole tokens count: `foo*` is literal.
pub fn is_literal(subject: &str) -> bool {
    !subject.split(TSEP).any(is_wildcard_token)
}

/// True for the wildcard tokens `*` and `>`.
#[inline]
pub fn is_wildcard_token(tok: &str) -> bool {
    tok == PWC || tok == FWC
}

/// A single token: non-empty, no `.` and no whitespace. The wildcard tokens
/// `*` and `>` are syntactically valid tokens; callers that need a literal
/// token should also check [`is_wildcard_token`].
pub fn is_valid_token(tok: &str) -> bool {
    !tok.is_empty() && !tok.bytes().any(|b| b == b'.' || is_subject_ws(b))
}

/// Any ASCII control byte (< 0x20) or DEL. Used to reject subjects, queue
/// names and header values that would corrupt the line-based protocol or logs.
pub fn has_control_bytes(s: &[u8]) -> bool {
    // Branch-free so it vectorizes; subjects are short and usually clean.
    s.iter()
        .fold(false, |bad, &b| bad | (b < 0x20) | (b == 0x7f))
}

/// Does the literal `subject` match the (possibly wildcard) `pattern`?
///
/// `>` matches one or more tokens, so `foo.>` does not match `foo`. Wildcard
/// tokens in `subject` are compared as literal text (a publish to `foo.*` is
/// matched by `foo.*`, `foo.>`, `*.*`, `>` but not by `foo.bar`), which is how
/// nats-server treats them. Neither argument is validated beyond rejecting the
/// empty string; callers validate once at the edge.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() || subject.is_empty() {
        return false;
    }
    let mut p = pattern.split(TSEP);
    let mut s = subject.split(TSEP);
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(FWC), Some(_)) => return true,
            (Some(pt), Some(st)) => {
                if pt != PWC && pt != st {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Number of tokens in a subject (0 for the empty string).
pub fn num_tokens(subject: &str) -> usize {
    if subject.is_empty() {
        0
    } else {
        subject.bytes().filter(|&b| b == b'.').count() + 1
    }
}

/// True iff every literal subject matched by subscription pattern `sub` is
/// also matched by pattern `of` (set inclusion).
///
/// Used for permission and import/export checks, where "may this client
/// subscribe to `sub`" means `sub` must lie entirely inside an allowed
/// pattern. Examples: `foo.*` ⊆ `foo.>`, `a.b` ⊆ `a.*`, but `foo.>` ⊄ `foo.*`
/// and `>` ⊄ `*`. Both arguments are assumed to be valid subscription
/// subjects; the empty string is a subset of nothing.
pub fn subject_is_subset(sub: &str, of: &str) -> bool {
    if sub.is_empty() || of.is_empty() {
        return false;
    }
    let mut s = sub.split(TSEP);
    let mut o = of.split(TSEP);
    loop {
        match (s.next(), o.next()) {
            (None, None) => return true,
            // `of` ends in `>` and `sub` still has at least one token here;
            // whatever that remainder matches is one or more tokens.
            (Some(_), Some(FWC)) => return true,
            // `sub`'s `>` matches arbitrarily long tails (and a one-token
            // tail); an `of` without `>` at this position cannot cover both.
            (Some(FWC), Some(_)) => return false,
            // Both single-token positions: `*` in `of` covers anything.
            (Some(_), Some(PWC)) => {}
            // `of` is literal here: `sub` must be the same literal (a `*` in
            // `sub` is never equal to a literal token of `of`).
            (Some(st), Some(ot)) => {
                if st != ot {
                    return false;
                }
            }
            // Different lengths without a covering `>`.
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            "*",
            ">",
            "*.*",
            "*.>",
            "foo.*.bar",
            "foo*",
            "foo.b>",
            "foo.>bar",
            "foo.*bar.baz",
            "a.b.c.d.e.f",
            "foo-bar_baz",
            "ünïcødé.subject",
            "foo.b>.c",
            "$SYS.REQ.SERVER.PING",
            "_INBOX.abc123",
        ] {
            assert!(is_valid_subject(s), "{s:?} should be valid");
        }
    }

    #[test]
    fn invalid_subjects() {
        for s in [
            "",
            ".",
            "..",
            ".foo",
            "foo.",
            "foo..bar",
            "foo.>.bar",
            ">.foo",
            ">.>",
            "foo bar",
            "foo\tbar",
            "foo\rbar",
            "foo\nbar",
            "foo\x0cbar",
            "foo\x0bbar",
            " ",
            "foo. ",
            "foo.\t.bar",
            "foo.bar ",
            "\n",
        ] {
            assert!(!is_valid_subject(s), "{s:?} should be invalid");
        }
    }

    #[test]
    fn literal_subjects() {
        assert!(is_valid_literal_subject("foo.bar"));
        assert!(is_valid_literal_subject("foo*.b>"));
        assert!(!is_valid_literal_subject("foo.*"));
        assert!(!is_valid_literal_subject("foo.>"));
        assert!(!is_valid_literal_subject("*"));
        assert!(!is_valid_literal_subject(""));
        assert!(!is_valid_literal_subject("foo..bar"));
        assert!(!is_valid_literal_subject("foo bar"));

        assert!(is_literal("foo.bar"));
        assert!(is_literal("foo*.bar>"));
        assert!(!is_literal("foo.*.bar"));
        assert!(!is_literal(">"));
        assert!(!is_literal("*"));
        assert!(is_literal(""));
    }

    #[test]
    fn tokens() {
        assert!(is_valid_token("foo"));
        assert!(is_valid_token("*"));
        assert!(is_valid_token(">"));
        assert!(is_valid_token("foo*"));
        assert!(!is_valid_token(""));
        assert!(!is_valid_token("foo.bar"));
        assert!(!is_valid_token("."));
        assert!(!is_valid_token("foo bar"));
        assert!(!is_valid_token("foo\t"));
        assert!(!is_valid_token("\x0b"));
        assert!(is_wildcard_token("*"));
        assert!(is_wildcard_token(">"));
        assert!(!is_wildcard_token("*>"));
        assert!(!is_wildcard_token("a"));
    }

    #[test]
    fn control_bytes() {
        assert!(!has_control_bytes(b""));
        assert!(!has_control_bytes(b"foo.bar baz~"));
        assert!(!has_control_bytes("ünï".as_bytes()));
        assert!(has_control_bytes(b"foo\0"));
        assert!(has_control_bytes(b"\x1f"));
        assert!(has_control_bytes(b"a\tb"));
        assert!(has_control_bytes(b"a\x7fb"));
        assert!(has_control_bytes(b"\r\n"));
    }

    #[test]
    fn token_counts() {
        assert_eq!(num_tokens(""), 0);
        assert_eq!(num_tokens("foo"), 1);
        assert_eq!(num_tokens("foo.bar"), 2);
        assert_eq!(num_tokens("foo.*.>"), 3);
        assert_eq!(num_tokens("a.b.c.d.e"), 5);
    }

    #[test]
    fn matching() {
        let yes = [
            ("foo", "foo"),
            ("foo.bar", "foo.bar"),
            ("*", "foo"),
            (">", "foo"),
            (">", "foo.bar.baz"),
            ("foo.*", "foo.bar"),
            ("foo.>", "foo.bar"),
            ("foo.>", "foo.bar.baz"),
            ("*.bar", "foo.bar"),
            ("*.*", "foo.bar"),
            ("foo.*.baz", "foo.bar.baz"),
            ("foo.*.>", "foo.bar.baz.qux"),
            // Wildcards published literally.
            ("foo.*", "foo.*"),
            ("foo.>", "foo.*"),
            ("*.*", "foo.*"),
            (">", "foo.*"),
            ("foo.>", "foo.>"),
            // `foo*` is literal text.
            ("foo*", "foo*"),
        ];
        for (p, s) in yes {
            assert!(subject_matches(p, s), "{p:?} should match {s:?}");
        }
        let no = [
            ("foo", "bar"),
            ("foo", "foo.bar"),
            ("foo.bar", "foo"),
            ("foo.>", "foo"),
            ("foo.*", "foo"),
            ("foo.*", "foo.bar.baz"),
            ("*", "foo.bar"),
            ("*.bar", "foo.baz"),
            ("foo.*.baz", "foo.bar.qux"),
            ("foo*", "foobar"),
            ("foo*", "foo"),
            ("foo.bar", "foo.*"),
            ("", ""),
            ("*", ""),
            (">", ""),
            ("", "foo"),
        ];
        for (p, s) in no {
            assert!(!subject_matches(p, s), "{p:?} should not match {s:?}");
        }
    }

    #[test]
    fn subsets() {
        let yes = [
            ("*", "*"),
            (">", ">"),
            ("foo", "foo"),
            ("foo", "*"),
            ("foo", ">"),
            ("*", ">"),
            ("foo.*", "foo.>"),
            ("foo.*.bar", "foo.>"),
            ("foo.>", "foo.>"),
            ("foo.bar.>", "foo.>"),
            ("foo.bar.>", "foo.*.>"),
            ("a.b", "a.*"),
            ("a.b", "*.b"),
            ("a.b", "*.*"),
            ("a.*", "*.*"),
            ("a.*.c", "*.*.c"),
            ("a.>", ">"),
            ("*.>", ">"),
        ];
        for (s, o) in yes {
            assert!(subject_is_subset(s, o), "{s:?} should be a subset of {o:?}");
        }
        let no = [
            (">", "*"),
            ("*", "foo"),
            ("foo.>", "foo.*"),
            ("foo.>", "foo.*.>"),
            ("foo.*", "foo.bar"),
            ("foo", "foo.>"),
            ("foo", "foo.*"),
            ("foo.bar", "foo"),
            ("a.b", "a.c"),
            ("*.*", "a.*"),
            (">", "foo.>"),
            (">", "*.>"),
            ("a.b.c", "a.*"),
            ("", "*"),
            ("foo", ""),
        ];
        for (s, o) in no {
            assert!(
                !subject_is_subset(s, o),
                "{s:?} should not be a subset of {o:?}"
            );
        }
    }

    /// Literal subjects over {a,b,c,d} with 1..=5 tokens. Patterns use tokens
    /// {a,b,c} plus wildcards and at most 4 tokens, so `d` stands for "any
    /// other token" and length 5 is one longer than any pattern: enough for a
    /// witness to every non-inclusion.
    fn universe() -> Vec<String> {
        let toks = ["a", "b", "c", "d"];
        let mut out: Vec<String> = Vec::new();
        let mut prev: Vec<String> = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &prev {
                for t in toks {
                    next.push(if p.is_empty() {
                        t.to_string()
                    } else {
                        format!("{p}.{t}")
                    });
                }
            }
            out.extend(next.iter().cloned());
            prev = next;
        }
        out
    }

    fn pattern() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*"]), 0..4),
            prop::sample::select(vec!["a", "b", "c", "*", ">"]),
        )
            .prop_map(|(mut toks, last)| {
                toks.push(last);
                toks.join(".")
            })
    }

    fn any_subject() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "*", ">", "a*", ""]),
            0..5,
        )
        .prop_map(|t| t.join("."))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn subset_agrees_with_enumeration(a in pattern(), b in pattern()) {
            let u = universe();
            let brute = u.iter().all(|s| !subject_matches(&a, s) || subject_matches(&b, s));
            prop_assert_eq!(subject_is_subset(&a, &b), brute, "sub={} of={}", a, b);
        }

        #[test]
        fn subset_is_reflexive(a in pattern()) {
            prop_assert!(subject_is_subset(&a, &a));
        }

        #[test]
        fn literal_subject_is_subset_iff_matches(a in pattern(), s in pattern()) {
            if is_literal(&s) {
                prop_assert_eq!(subject_is_subset(&s, &a), subject_matches(&a, &s));
            }
        }

        /// The byte-loop validator agrees with a straightforward restatement
        /// of the rules.
        #[test]
        fn validator_agrees_with_spec(s in any_subject(), ws in prop::option::of(0usize..6)) {
            let mut s = s;
            if let Some(w) = ws {
                let c = [' ', '\t', '\r', '\n', '\x0c', '\x0b'][w];
                let at = s.len() / 2;
                if s.is_char_boundary(at) {
                    s.insert(at, c);
                }
            }
            let toks: Vec<&str> = s.split('.').collect();
            let spec = !s.is_empty()
                && toks.iter().all(|t| is_valid_token(t))
                && toks.iter().take(toks.len() - 1).all(|t| *t != ">");
            prop_assert_eq!(is_valid_subject(&s), spec, "{:?}", s);
        }
    }
}
