//! Subject and token validation.
//! INTERFACE STUB: to be replaced by the real implementation.

/// A subscription subject: non-empty tokens split on `.`, no whitespace,
/// `*` only as a whole token, `>` only as the whole last token.
pub fn is_valid_subject(subject: &str) -> bool {
    let _ = subject;
    todo!()
}

/// A publish subject: valid and without wildcard tokens.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    let _ = subject;
    todo!()
}

/// True when the subject has no `*` or `>` token.
pub fn is_literal(subject: &str) -> bool {
    let _ = subject;
    todo!()
}

/// Does the literal `subject` match the (possibly wildcard) `pattern`?
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let _ = (pattern, subject);
    todo!()
}

/// Number of tokens in a subject.
pub fn num_tokens(subject: &str) -> usize {
    let _ = subject;
    todo!()
}
