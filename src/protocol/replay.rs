//! Differential check used by the protocol fuzz target and by `cargo test`
//! when replaying the fuzz corpus: parsing an input in one piece and in
//! arbitrary pieces must give the same ops and the same error, and must
//! never panic.

use super::parser::{Limits, Parser};

/// A printable summary of an op sequence plus the terminating error.
fn run(input: &[u8], cut: &dyn Fn(usize) -> usize, limits: Limits) -> Vec<String> {
    let mut p = Parser::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let n = cut(i).clamp(1, input.len() - i);
        buf.extend_from_slice(&input[i..i + n]);
        i += n;
        let mut pos = 0;
        loop {
            match p.next(&buf[pos..]) {
                Ok(Some((op, used))) => {
                    out.push(format!("{op:?}"));
                    pos += used;
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error: {e:?}"));
                    return out;
                }
            }
        }
        buf.drain(..pos);
    }
    out
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
    let whole = run(input, &|_| usize::MAX, limits);
    let bytes = run(input, &|_| 1, limits);
    let step = seed as usize % 7 + 1;
    let pieces = run(input, &|i| (i * 31 + step) % 13 + 1, limits);
    assert_eq!(whole, bytes, "one byte at a time differs");
    assert_eq!(whole, pieces, "split reads differ");
}
