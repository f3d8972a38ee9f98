//! Differential checks used by the `subject` fuzz target and by `cargo test`
//! when replaying its seed corpus: the [`Sublist`] (with and without its
//! result cache) against a naive list of subscriptions, and the subject
//! functions of [`super::validate`] against naive definitions written here
//! from the documented rules, not from the implementation.
//!
//! Every check panics on a disagreement; the inputs come from the fuzzer.

#![doc(hidden)]

use std::collections::BTreeMap;

use super::sublist::{Sublist, SublistError, SublistResult};
use super::validate::{
    has_control_bytes, is_literal, is_valid_literal_subject, is_valid_subject, is_valid_token,
    num_tokens, subject_is_subset, subject_matches,
};

/// One step of a [`check_sublist`] sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Sublist::insert(subject, queue, id)`.
    Insert {
        subject: String,
        queue: Option<String>,
        id: u8,
    },
    /// `Sublist::remove(subject, queue, &id)`, whether or not it is there.
    Remove {
        subject: String,
        queue: Option<String>,
        id: u8,
    },
    /// Remove the n-th live subscription (modulo the live count).
    RemoveLive(usize),
    /// `Sublist::match_subject`, `has_interest` and `match_with_generation`.
    Match(String),
    /// `Sublist::clear_cache`.
    ClearCache,
}

/// A subscription in the naive model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sub {
    subject: String,
    queue: Option<String>,
    id: u8,
}

/// Plain ids (sorted) and queue groups (name to sorted ids).
type Canon = (Vec<u8>, BTreeMap<String, Vec<u8>>);

/// The tokens of a subject, `None` for the empty string.
fn tokens(s: &str) -> Option<Vec<&str>> {
    if s.is_empty() {
        None
    } else {
        Some(s.split('.').collect())
    }
}

/// Naive subscription-subject validity: non-empty tokens, none containing a
/// byte up to space or DEL, and `>` only as the last token.
pub fn naive_is_valid_subject(s: &str) -> bool {
    let Some(toks) = tokens(s) else {
        return false;
    };
    let n = toks.len();
    toks.iter().enumerate().all(|(i, t)| {
        !t.is_empty() && !t.bytes().any(|b| b <= b' ' || b == 0x7f) && (*t != ">" || i == n - 1)
    })
}

/// Naive match of a published `subject` against a subscription `pattern`:
/// token by token, `*` takes one token, `>` one or more; wildcards in the
/// subject are plain text; empty tokens in the subject never match.
pub fn naive_matches(pattern: &str, subject: &str) -> bool {
    let (Some(p), Some(s)) = (tokens(pattern), tokens(subject)) else {
        return false;
    };
    if s.iter().any(|t| t.is_empty()) {
        return false;
    }
    fn go(p: &[&str], s: &[&str]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((&">", _)), Some(_)) => true,
            (Some((pt, pr)), Some((st, sr))) => (*pt == "*" || pt == st) && go(pr, sr),
            _ => false,
        }
    }
    go(&p, &s)
}

/// Naive inclusion of pattern `sub` in pattern `of`, both valid: `of` must
/// match every literal subject `sub` does. Checked on witnesses: each `*` of
/// `sub` becomes a token that appears in neither pattern, its `>` becomes
/// 1 to `len(of) + 1` such tokens (longer tails behave like the longest).
pub fn naive_is_subset(sub: &str, of: &str) -> bool {
    let (Some(s), Some(o)) = (tokens(sub), tokens(of)) else {
        return false;
    };
    // A token that is in neither pattern: longer than every token of both.
    let longest = s.iter().chain(o.iter()).map(|t| t.len()).max().unwrap_or(0);
    let fresh = "z".repeat(longest + 1);
    let head: Vec<&str> = s
        .iter()
        .map(|t| if *t == "*" { fresh.as_str() } else { *t })
        .collect();
    let witnesses: Vec<String> = if s.last() == Some(&">") {
        let base = &head[..head.len() - 1];
        (1..=o.len() + 1)
            .map(|k| {
                let mut w: Vec<&str> = base.to_vec();
                w.extend(std::iter::repeat_n(fresh.as_str(), k));
                w.join(".")
            })
            .collect()
    } else {
        vec![head.join(".")]
    };
    witnesses.iter().all(|w| naive_matches(of, w))
}

/// Checks the subject functions on one pair of strings against the naive
/// definitions above and against each other.
pub fn check_subjects(a: &str, b: &str) {
    for s in [a, b] {
        let valid = is_valid_subject(s);
        assert_eq!(valid, naive_is_valid_subject(s), "is_valid_subject({s:?})");
        let literal = s.split('.').all(|t| t != "*" && t != ">");
        assert_eq!(is_literal(s), literal, "is_literal({s:?})");
        assert_eq!(
            is_valid_literal_subject(s),
            valid && literal,
            "is_valid_literal_subject({s:?})"
        );
        assert_eq!(
            has_control_bytes(s.as_bytes()),
            s.bytes().any(|c| c < 0x20 || c == 0x7f),
            "has_control_bytes({s:?})"
        );
        assert_eq!(
            num_tokens(s),
            if s.is_empty() {
                0
            } else {
                s.split('.').count()
            },
            "num_tokens({s:?})"
        );
        assert_eq!(
            is_valid_token(s),
            !s.contains('.') && naive_is_valid_subject(s),
            "is_valid_token({s:?})"
        );
        // A valid subject matches itself, and is a subset of itself.
        if valid {
            assert!(subject_is_subset(s, s), "{s:?} not a subset of itself");
            assert!(subject_is_subset(s, ">"), "{s:?} not a subset of >");
            if literal {
                assert!(subject_matches(s, s), "{s:?} does not match itself");
            }
        }
    }
    for (p, s) in [(a, b), (b, a)] {
        // Matching is defined for any pattern the sublist can hold and any
        // subject without empty tokens (callers reject those first).
        if is_valid_subject(p) && !s.split('.').any(str::is_empty) {
            assert_eq!(
                subject_matches(p, s),
                naive_matches(p, s),
                "subject_matches({p:?}, {s:?})"
            );
        }
        if is_valid_subject(p) && is_valid_subject(s) {
            let got = subject_is_subset(s, p);
            assert_eq!(
                got,
                naive_is_subset(s, p),
                "subject_is_subset({s:?}, {p:?})"
            );
        }
    }
    // Inclusion is antisymmetric up to equality of the patterns.
    if is_valid_subject(a)
        && is_valid_subject(b)
        && subject_is_subset(a, b)
        && subject_is_subset(b, a)
    {
        assert_eq!(a, b, "mutual subsets that differ");
    }
}

fn canon(r: &SublistResult<u8>) -> Canon {
    let mut p = r.psubs.clone();
    p.sort_unstable();
    let mut q = BTreeMap::new();
    for (name, members) in &r.qsubs {
        assert!(
            !members.is_empty(),
            "empty queue group {name:?} in a result"
        );
        let mut m = members.clone();
        m.sort_unstable();
        let prev = q.insert(name.to_string(), m);
        assert!(prev.is_none(), "queue group {name:?} twice in a result");
    }
    (p, q)
}

fn naive_result(live: &[Sub], subject: &str) -> Canon {
    let mut p = Vec::new();
    let mut q: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for s in live {
        if naive_matches(&s.subject, subject) {
            match &s.queue {
                None => p.push(s.id),
                Some(n) => q.entry(n.clone()).or_default().push(s.id),
            }
        }
    }
    p.sort_unstable();
    for v in q.values_mut() {
        v.sort_unstable();
    }
    (p, q)
}

/// Runs `ops` on a [`Sublist`] (with the result cache if `cache`) and on a
/// naive list, and panics as soon as they disagree. Every subject matched
/// so far is matched again after each op, so a stale cached result shows.
pub fn check_sublist(ops: &[Op], cache: bool) {
    let sl: Sublist<u8> = Sublist::new(cache);
    let mut live: Vec<Sub> = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    for op in ops {
        let gen = sl.generation();
        match op {
            Op::Insert { subject, queue, id } => {
                let got = sl.insert(subject, queue.as_deref(), *id);
                let ok = naive_is_valid_subject(subject) && queue.as_deref() != Some("");
                if ok {
                    assert_eq!(got, Ok(()), "insert {subject:?} {queue:?}");
                    assert_ne!(gen, sl.generation(), "insert kept the generation");
                    live.push(Sub {
                        subject: subject.clone(),
                        queue: queue.clone(),
                        id: *id,
                    });
                } else {
                    assert_eq!(got, Err(SublistError::InvalidSubject), "insert {subject:?}");
                    assert_eq!(gen, sl.generation(), "failed insert moved the generation");
                }
            }
            Op::Remove { subject, queue, id } => {
                let got = sl.remove(subject, queue.as_deref(), id);
                let at = live
                    .iter()
                    .position(|s| &s.subject == subject && &s.queue == queue && s.id == *id);
                match at {
                    Some(i) => {
                        assert_eq!(got, Ok(()), "remove {subject:?} {queue:?} {id}");
                        assert_ne!(gen, sl.generation(), "remove kept the generation");
                        live.remove(i);
                    }
                    None => {
                        assert_eq!(got, Err(SublistError::NotFound), "remove {subject:?}");
                        assert_eq!(gen, sl.generation(), "failed remove moved the generation");
                    }
                }
            }
            Op::RemoveLive(n) => {
                if !live.is_empty() {
                    let s = live.remove(n % live.len());
                    assert_eq!(sl.remove(&s.subject, s.queue.as_deref(), &s.id), Ok(()));
                    assert_ne!(gen, sl.generation(), "remove kept the generation");
                }
            }
            Op::Match(subject) => {
                let want = naive_result(&live, subject);
                let (g, r) = sl.match_with_generation(subject);
                assert!(g <= sl.generation());
                assert_eq!(canon(&r), want, "match {subject:?}");
                assert_eq!(
                    sl.has_interest(subject),
                    !want.0.is_empty() || !want.1.is_empty(),
                    "has_interest {subject:?}"
                );
                // A second match (a cache hit when the cache is on) agrees.
                assert_eq!(
                    canon(&sl.match_subject(subject)),
                    want,
                    "rematch {subject:?}"
                );
                if matched.len() < 64 && !matched.contains(subject) {
                    matched.push(subject.clone());
                }
            }
            Op::ClearCache => {
                sl.clear_cache();
                assert_eq!(sl.cache_len(), 0);
                assert_eq!(gen, sl.generation(), "clear_cache moved the generation");
            }
        }
        assert_eq!(sl.count(), live.len(), "count after {op:?}");
        if !cache {
            assert_eq!(sl.cache_len(), 0);
        }
        // Every subject matched so far, possibly cached, is still exact.
        for s in &matched {
            assert_eq!(
                canon(&sl.match_subject(s)),
                naive_result(&live, s),
                "stale result for {s:?} after {op:?}"
            );
        }
    }
    // The subscriptions the sublist lists are exactly the live ones.
    let mut listed = Vec::new();
    sl.for_each_sub(|subject, queue, id| {
        listed.push(Sub {
            subject: subject.to_string(),
            queue: queue.map(str::to_string),
            id: *id,
        })
    });
    listed.sort();
    let mut want = live.clone();
    want.sort();
    assert_eq!(listed, want, "for_each_sub");
    let mut all = sl.all();
    all.sort_unstable();
    let mut ids: Vec<u8> = live.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    assert_eq!(all, ids, "all");
    // Removing everything leaves nothing matching.
    for s in live.drain(..) {
        assert_eq!(sl.remove(&s.subject, s.queue.as_deref(), &s.id), Ok(()));
    }
    assert_eq!(sl.count(), 0);
    for s in &matched {
        assert!(sl.match_subject(s).is_empty(), "{s:?} matches after drain");
        assert!(!sl.has_interest(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_definitions() {
        assert!(naive_is_valid_subject("a.*.>"));
        assert!(!naive_is_valid_subject("a.>.b"));
        assert!(!naive_is_valid_subject("a..b"));
        assert!(naive_matches("a.>", "a.b.c"));
        assert!(!naive_matches("a.>", "a"));
        assert!(naive_matches("*.b", "a.b"));
        assert!(!naive_matches("a.b", "a..b"));
        assert!(naive_is_subset("a.*", "a.>"));
        assert!(naive_is_subset("a.b", "a.*"));
        assert!(!naive_is_subset("a.>", "a.*"));
        assert!(!naive_is_subset(">", "*"));
        assert!(naive_is_subset("a.>", "a.>"));
        assert!(naive_is_subset("a.*.>", "a.>"));
        assert!(!naive_is_subset("a.*.>", "a.*.*"));
        check_subjects("foo.*", "foo.>");
        check_subjects("a.b", "a.*");
    }

    #[test]
    fn sublist_sequence() {
        let ins = |s: &str, q: Option<&str>, id| Op::Insert {
            subject: s.into(),
            queue: q.map(Into::into),
            id,
        };
        let ops = vec![
            ins("a.*", None, 1),
            ins("a.>", Some("q"), 2),
            ins("a.b", Some("q"), 2),
            ins("a..b", None, 3),
            Op::Match("a.b".into()),
            Op::RemoveLive(1),
            Op::Match("a.b".into()),
            Op::Remove {
                subject: "a.*".into(),
                queue: None,
                id: 9,
            },
            Op::ClearCache,
            Op::Match("a.b.c".into()),
        ];
        check_sublist(&ops, true);
        check_sublist(&ops, false);
    }
}
