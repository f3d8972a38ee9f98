//! Differential checks used by the protocol fuzz targets and by `cargo test`
//! when replaying their corpora: parsing an input in one piece and in
//! arbitrary pieces must give the same ops and the same error, and must
//! never panic.
//!
//! [`splits_agree`] is the harness; [`check`] runs it on the client parser,
//! `cluster::proto::replay::check` on the route parser.

use std::fmt::Debug;

use super::parser::{Limits, Parser};

/// What one parser call gave, printed: the op and the bytes it spans, `None`
/// when more bytes are needed, or the error.
pub type Printed = Result<Option<(String, usize)>, String>;

/// Prints the result of a parser's `next`.
pub fn printed<T: Debug, E: Debug>(r: Result<Option<(T, usize)>, E>) -> Printed {
    match r {
        Ok(Some((op, used))) => Ok(Some((format!("{op:?}"), used))),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// A printable summary of an op sequence plus the terminating error, reading
/// `input` in pieces of `cut(offset)` bytes as a connection would.
fn run<P>(
    input: &[u8],
    cut: &dyn Fn(usize) -> usize,
    mut p: P,
    next: &impl Fn(&mut P, &[u8]) -> Printed,
) -> Vec<String> {
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let n = cut(i).clamp(1, input.len() - i);
        buf.extend_from_slice(&input[i..i + n]);
        i += n;
        let mut pos = 0;
        loop {
            match next(&mut p, &buf[pos..]) {
                Ok(Some((op, used))) => {
                    out.push(op);
                    pos += used;
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error: {e}"));
                    return out;
                }
            }
        }
        buf.drain(..pos);
    }
    out
}

/// Parses `input` whole, one byte at a time and in pieces derived from
/// `seed`, each time with a fresh parser from `new` stepped by `next`, and
/// panics if the results differ.
pub fn splits_agree<P>(
    input: &[u8],
    seed: u8,
    new: impl Fn() -> P,
    next: impl Fn(&mut P, &[u8]) -> Printed,
) {
    let whole = run(input, &|_| usize::MAX, new(), &next);
    let bytes = run(input, &|_| 1, new(), &next);
    let step = usize::from(seed) % 7 + 1;
    let pieces = run(input, &|i| (i * 31 + step) % 13 + 1, new(), &next);
    assert_eq!(whole, bytes, "one byte at a time differs");
    assert_eq!(whole, pieces, "split reads differ");
}

/// Parses `input` whole, one byte at a time and in pieces derived from
/// `seed`, and panics if the results differ.
///
/// Errors detected early on partial input (an over-long or unknown line)
/// may surface at a different op count than with the whole input only when
/// the whole input already contains the error too, so the comparison is on
/// the op sequence up to and including the first error.
pub fn check(input: &[u8], seed: u8) {
    let limits = Limits {
        max_control_line: 64,
        max_payload: 256,
        headers: true,
    };
    splits_agree(
        input,
        seed,
        || Parser::new(limits),
        |p, buf| printed(p.next(buf)),
    );
}
