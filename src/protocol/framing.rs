//! The framing both NATS text protocols share, for the client parser
//! ([`super::parser`]) and the route parser ([`crate::cluster::proto`]).
//!
//! Clients and routes speak the same kind of protocol: a control line (an
//! op name, separators, arguments) ending in `\n` or `\r\n`, and for message
//! ops a payload of the size the line announces followed by `\r\n`.
//! nats-server reads both with one state machine, so where a line ends, when
//! an incomplete line is already wrong, how long a line may be and how a
//! payload must end are the same rules on both links; only the op names and
//! what their arguments mean differ. Those rules live here once, so the two
//! parsers cannot drift apart. Each parser keeps its own op table (an
//! [`OpTable`] impl on its op-name enum), its argument parsing and its error
//! type (a [`FrameErrors`] impl).
//!
//! Everything is generic or a plain function, so each parser gets its own
//! monomorphized, inlinable copy: no dynamic dispatch, no allocation, and
//! every slice or [`Span`] returned points into the caller's buffer.

use memchr::memchr;

/// A byte range `(start, end)` of a buffer or line.
pub type Span = (usize, usize);

/// The errors framing can find, as values of a parser's own error type.
pub trait FrameErrors {
    /// An op name no table knows, a missing separator after the name of an
    /// op with arguments, or a wrong byte where a payload's `\r\n` belongs.
    const UNKNOWN_OP: Self;
    /// A control line whose arguments exceed the limit.
    const MAX_CONTROL_LINE: Self;
}

/// The op names of one protocol, implemented by the parser's op-name enum.
pub trait OpTable: Copy {
    /// Longest op name this table needs to see: a name longer than this, or
    /// one a separator follows, is complete, so an unknown one can be
    /// reported before its line ends.
    const MAX_NAME_LEN: usize;

    /// Whether a line may start with `b`; anything else is an unknown op as
    /// soon as that first byte arrives.
    fn may_start(b: u8) -> bool;

    /// Splits a line into its op name and the offset where the arguments
    /// start. Override it for a name that may be glued to its arguments.
    #[inline]
    fn split_name(line: &[u8]) -> (&[u8], usize) {
        split_name(line, Self::MAX_NAME_LEN)
    }

    /// The op a name stands for, if any.
    fn lookup(name: &[u8]) -> Option<Self>;

    /// Whether the op needs a separator after its name (it has arguments).
    fn takes_args(self) -> bool;
}

/// One complete control line at the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a, O> {
    pub op: O,
    /// The line without its `\n` or `\r\n`.
    pub text: &'a [u8],
    /// Where the arguments start in `text` (after the name and separators).
    pub args_at: usize,
    /// Bytes the line spans, its line end included: where a payload starts.
    pub len: usize,
}

impl<'a, O> Line<'a, O> {
    /// The arguments: everything after the name and its separators.
    #[inline]
    pub fn args(&self) -> &'a [u8] {
        &self.text[self.args_at..]
    }
}

/// The control line at the start of `buf`, or `None` until its `\n` has
/// arrived. An incomplete line is judged as far as its bytes allow (see
/// [`check_partial_line`]), so a peer cannot make the server wait for, and
/// buffer, a line that is already wrong.
///
/// # Errors
/// An unknown op, an op with arguments but no separator after its name (as
/// in nats-server, `SUB\r\n` is an unknown operation, not a bad SUB), or
/// arguments longer than `max_control_line`. Every line is bounded, also
/// those whose arguments are ignored (PING junk).
#[inline]
pub fn next_line<O: OpTable, E: FrameErrors>(
    buf: &[u8],
    max_control_line: usize,
) -> Result<Option<Line<'_, O>>, E> {
    if buf.is_empty() {
        return Ok(None);
    }
    let Some(nl) = memchr(b'\n', buf) else {
        check_partial_line::<O, E>(buf, max_control_line)?;
        return Ok(None);
    };
    let text = &buf[..nl];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let (name, args_at) = O::split_name(text);
    let op = O::lookup(name).ok_or(E::UNKNOWN_OP)?;
    if op.takes_args() && args_at == name.len() {
        return Err(E::UNKNOWN_OP);
    }
    if text.len() - args_at > max_control_line {
        return Err(E::MAX_CONTROL_LINE);
    }
    Ok(Some(Line {
        op,
        text,
        args_at,
        len: nl + 1,
    }))
}

/// An incomplete line: rejects an unknown op or an over-long line now,
/// without waiting for a newline that may never come. The verdict must be
/// the one the complete line would get, whatever way its bytes arrive.
fn check_partial_line<O: OpTable, E: FrameErrors>(
    buf: &[u8],
    max_control_line: usize,
) -> Result<(), E> {
    if !O::may_start(buf[0]) {
        return Err(E::UNKNOWN_OP);
    }
    // A trailing CR may be the first half of the line end: not counted,
    // so the limit is the same whether or not the line is complete.
    let len = buf.len() - usize::from(buf.ends_with(b"\r"));
    let (name, args_at) = O::split_name(&buf[..len]);
    // Once the name is complete (a separator follows it, or it is longer
    // than any op) an unknown name is reported as such, as the complete
    // line would be: the error must not depend on how the bytes arrive.
    let name_complete = name.len() < len || name.len() > O::MAX_NAME_LEN;
    if name_complete && O::lookup(name).is_none() {
        return Err(E::UNKNOWN_OP);
    }
    if len - args_at.min(len) > max_control_line {
        return Err(E::MAX_CONTROL_LINE);
    }
    Ok(())
}

/// Splits a line into the op name and the offset where arguments start
/// (after the separating spaces/tabs). The name is cut after
/// `max_name_len + 1` bytes, enough to tell it is none of the ops.
#[inline]
pub fn split_name(line: &[u8], max_name_len: usize) -> (&[u8], usize) {
    let name_end = line
        .iter()
        .take(max_name_len + 1)
        .position(|&b| is_space(b))
        .unwrap_or(line.len().min(max_name_len + 1));
    let mut args_at = name_end;
    while args_at < line.len() && is_space(line[args_at]) {
        args_at += 1;
    }
    (&line[..name_end], args_at)
}

/// The separators between an op name and its arguments (and between the
/// client protocol's arguments).
#[inline]
pub fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A message whose control line was parsed but whose payload (and the CRLF
/// after it) has not fully arrived. Offsets are relative to the start of the
/// buffer the parser is given, as is everything `head` holds.
#[derive(Debug, Clone, Copy)]
pub struct MsgLine<H> {
    /// Bytes of the control line, line end included: the payload starts here.
    pub line_len: usize,
    /// Payload size the line announced.
    pub total: usize,
    /// What the parser keeps of the line (spans of its fields).
    pub head: H,
}

/// A message whose payload and CRLF have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgFrame<'a, H> {
    /// What the parser kept of the control line.
    pub head: H,
    /// The payload, borrowed from the buffer.
    pub payload: &'a [u8],
    /// Bytes the whole frame spans: control line, payload and CRLF.
    pub len: usize,
}

/// The only state a parser keeps between calls: the message line whose
/// payload is awaited, if any. With it a frame may be split at any byte and
/// the result is the same.
#[derive(Debug)]
pub struct PendingPayload<H>(Option<MsgLine<H>>);

impl<H> Default for PendingPayload<H> {
    fn default() -> Self {
        PendingPayload(None)
    }
}

impl<H: Copy> PendingPayload<H> {
    /// Whether a payload is awaited: the next bytes are not a control line.
    #[inline]
    pub fn is_waiting(&self) -> bool {
        self.0.is_some()
    }

    /// How many bytes the buffer must hold for the awaited message to
    /// complete, so the reader can reserve room for a large payload in one
    /// step.
    #[inline]
    pub fn bytes_needed(&self) -> Option<usize> {
        self.0.map(|p| p.line_len + p.total + 2)
    }

    /// Awaits the payload of `line`; [`PendingPayload::take`] completes it.
    #[inline]
    pub fn wait(&mut self, line: MsgLine<H>) {
        self.0 = Some(line);
    }

    /// The awaited message once its payload and CRLF are in `buf`, or
    /// `None` while bytes are missing (or nothing is awaited).
    ///
    /// # Errors
    /// Each terminator byte is judged as soon as it is there, as nats-server
    /// does: a payload longer than announced fails at its first wrong byte,
    /// without waiting for another. The wait ends either way.
    #[inline]
    pub fn take<'a, E: FrameErrors>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<MsgFrame<'a, H>>, E> {
        let Some(p) = self.0 else {
            return Ok(None);
        };
        let end = p.line_len + p.total;
        for (i, want) in [b'\r', b'\n'].into_iter().enumerate() {
            match buf.get(end + i) {
                Some(&b) if b != want => {
                    self.0 = None;
                    return Err(E::UNKNOWN_OP);
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
        self.0 = None;
        Ok(Some(MsgFrame {
            head: p.head,
            payload: &buf[p.line_len..end],
            len: end + 2,
        }))
    }
}

/// The next field of `text` from `*at` on: skips separators, returns the
/// span of the bytes up to the next separator (or the end) and moves `*at`
/// past it. `None` when only separators are left.
#[inline]
pub fn next_field(text: &[u8], at: &mut usize, is_sep: impl Fn(u8) -> bool) -> Option<Span> {
    let mut i = *at;
    while i < text.len() && is_sep(text[i]) {
        i += 1;
    }
    if i == text.len() {
        *at = i;
        return None;
    }
    let start = i;
    while i < text.len() && !is_sep(text[i]) {
        i += 1;
    }
    *at = i;
    Some((start, i))
}

/// Parses a non-negative decimal size as nats-server does: digits only, at
/// most 9 of them (so any accepted size fits comfortably in an `i32`).
#[inline]
pub fn parse_size(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as usize;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum E {
        Unknown,
        Long,
    }

    impl FrameErrors for E {
        const UNKNOWN_OP: Self = E::Unknown;
        const MAX_CONTROL_LINE: Self = E::Long;
    }

    /// A two-op protocol: `GO` (arguments) and `HI` (none).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        Go,
        Hi,
    }

    impl OpTable for Op {
        const MAX_NAME_LEN: usize = 2;

        fn may_start(b: u8) -> bool {
            matches!(b, b'G' | b'H')
        }

        fn lookup(name: &[u8]) -> Option<Self> {
            match name {
                b"GO" => Some(Op::Go),
                b"HI" => Some(Op::Hi),
                _ => None,
            }
        }

        fn takes_args(self) -> bool {
            self == Op::Go
        }
    }

    type Parsed<'a> = Option<(Op, &'a [u8], usize)>;

    fn line(buf: &[u8], max: usize) -> Result<Parsed<'_>, E> {
        Ok(next_line::<Op, E>(buf, max)?.map(|l| (l.op, l.args(), l.len)))
    }

    #[test]
    fn lines_end_in_lf_or_crlf() {
        assert_eq!(line(b"GO a b\r\nHI", 8), Ok(Some((Op::Go, &b"a b"[..], 8))));
        assert_eq!(line(b"GO \t a\nx", 8), Ok(Some((Op::Go, &b"a"[..], 7))));
        assert_eq!(line(b"HI\r\n", 0), Ok(Some((Op::Hi, &b""[..], 4))));
        assert_eq!(line(b"", 0), Ok(None));
    }

    #[test]
    fn names_and_separators() {
        assert_eq!(line(b"GO\r\n", 8), Err(E::Unknown));
        assert_eq!(line(b"NO x\r\n", 8), Err(E::Unknown));
        assert_eq!(line(b"GO 123456789\r\n", 8), Err(E::Long));
        assert_eq!(split_name(b"ABCDEFG", 3), (&b"ABCD"[..], 4));
        assert_eq!(split_name(b"AB \t x", 3), (&b"AB"[..], 5));
    }

    #[test]
    fn partial_lines_are_judged_early() {
        assert_eq!(line(b"X", 8), Err(E::Unknown));
        assert_eq!(line(b"G", 8), Ok(None));
        assert_eq!(line(b"GOX", 8), Err(E::Unknown));
        assert_eq!(line(b"GX ", 8), Err(E::Unknown));
        assert_eq!(line(b"GO 12345678", 8), Ok(None));
        assert_eq!(line(b"GO 12345678\r", 8), Ok(None));
        assert_eq!(line(b"GO 123456789", 8), Err(E::Long));
    }

    #[test]
    fn payload_and_terminator() {
        let msg = MsgLine {
            line_len: 3,
            total: 2,
            head: 'h',
        };
        let mut p = PendingPayload::default();
        assert_eq!(p.bytes_needed(), None);
        p.wait(msg);
        assert!(p.is_waiting());
        assert_eq!(p.bytes_needed(), Some(7));
        assert_eq!(p.take::<E>(b"GO\nab\r"), Ok(None));
        let frame = MsgFrame {
            head: 'h',
            payload: &b"ab"[..],
            len: 7,
        };
        assert_eq!(p.take::<E>(b"GO\nab\r\nHI"), Ok(Some(frame)));
        assert!(!p.is_waiting());
        // A wrong terminator byte fails as soon as it is there.
        for wrong in [&b"GO\nabc"[..], b"GO\nab\n", b"GO\nab\rx"] {
            p.wait(msg);
            assert_eq!(p.take::<E>(wrong), Err(E::Unknown), "{wrong:?}");
            assert!(!p.is_waiting());
        }
    }

    #[test]
    fn fields_and_sizes() {
        let text = b" a\t bc  d ";
        let mut at = 0;
        let mut spans = Vec::new();
        while let Some(f) = next_field(text, &mut at, is_space) {
            spans.push(f);
        }
        assert_eq!(spans, [(1, 2), (4, 6), (8, 9)]);
        assert_eq!(at, text.len());
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        for bad in [&b""[..], b"1234567890", b"-1", b"1x", b"+1"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
