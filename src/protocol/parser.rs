//! The client protocol parser: a state machine over the connection's read
//! buffer.
//!
//! The parser never copies: every [`Op`] borrows its arguments and payload
//! from the buffer it was given. It keeps only one piece of state between
//! calls, the header of a PUB/HPUB whose payload has not fully arrived yet, so
//! a frame may be split at any byte and the result is the same. The caller
//! owns the buffer and drops consumed bytes after acting on the ops.
//!
//! Limits are checked as early as the bytes allow: `max_control_line` while a
//! line is still incomplete, `max_payload` on the PUB line before any payload
//! is read, so a hostile peer cannot make the server buffer more than the
//! limits allow.
//!
//! The framing (where a line ends, what an incomplete line may already be
//! refused for, the wait for a payload and its CRLF) is shared with the route
//! parser in `protocol::framing`; this file holds the client's op table and
//! argument parsing.

pub use super::framing::parse_size;
use super::framing::{self, FrameErrors, MsgLine, OpTable, PendingPayload, Span};

/// One client-to-server operation, borrowing from the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    /// `CONNECT <json>`.
    Connect(&'a [u8]),
    /// `PUB` (no headers) or `HPUB` (`header_len` is `Some`; `payload`
    /// holds headers followed by the body).
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        payload: &'a [u8],
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        sid: &'a [u8],
        max: UnsubMax,
    },
    Ping,
    Pong,
    /// `INFO` from a client: its JSON is checked (a malformed one closes
    /// the connection, as in nats-server), then ignored.
    Info(&'a [u8]),
    /// `+OK` from a client: ignored.
    Ok,
    /// `-ERR` from a client: the connection is closed.
    Err(&'a [u8]),
}

/// The optional count of `UNSUB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubMax {
    /// No count: unsubscribe now.
    None,
    /// Unsubscribe after this many deliveries in total.
    After(u64),
    /// A count that is not a number: nats-server unsubscribes at once.
    Invalid,
}

/// Why parsing stopped. Each maps to what nats-server does: see
/// [`ParseError::client_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown protocol operation")]
    UnknownOp,
    #[error("maximum control line exceeded")]
    MaxControlLine,
    #[error("maximum payload exceeded")]
    MaxPayload,
    #[error("malformed arguments for {0}")]
    BadArgs(&'static str),
    #[error("headers used without negotiating headers support")]
    HeadersNotNegotiated,
}

impl ParseError {
    /// The `-ERR` text sent before closing, or `None` when nats-server closes
    /// without a word.
    pub fn client_error(self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOp => Some("Unknown Protocol Operation"),
            ParseError::MaxControlLine => Some("maximum control line exceeded"),
            ParseError::MaxPayload => Some("Maximum Payload Violation"),
            ParseError::BadArgs(_) | ParseError::HeadersNotNegotiated => None,
        }
    }
}

/// What the shared framing reports maps to these errors one to one.
impl FrameErrors for ParseError {
    const UNKNOWN_OP: Self = ParseError::UnknownOp;
    const MAX_CONTROL_LINE: Self = ParseError::MaxControlLine;
}

/// Limits and negotiated features the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
    /// Whether HPUB is allowed (the client sent `headers: true`).
    pub headers: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
            headers: false,
        }
    }
}

/// What a PUB/HPUB line leaves for its payload to complete. Offsets are
/// relative to the start of the buffer passed to [`Parser::next`].
#[derive(Debug, Clone, Copy)]
struct PubHead {
    subject: Span,
    reply: Option<Span>,
    header_len: Option<usize>,
}

/// The parser state for one connection.
#[derive(Debug, Default)]
pub struct Parser {
    pub limits: Limits,
    pending: PendingPayload<PubHead>,
}

impl Parser {
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            pending: PendingPayload::default(),
        }
    }

    /// How many bytes the buffer must hold for the next frame to complete,
    /// when that is known (a PUB whose payload is still arriving). The reader
    /// uses it to reserve room for a large payload in one step.
    pub fn bytes_needed(&self) -> Option<usize> {
        self.pending.bytes_needed()
    }

    /// Parses the next complete operation at the start of `buf`.
    ///
    /// Returns the op and the number of bytes it spans, or `None` when `buf`
    /// holds no complete op yet (the caller reads more and calls again with
    /// the same unconsumed bytes at the start).
    ///
    /// # Errors
    /// A [`ParseError`] means the connection must be closed.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        if self.pending.is_waiting() {
            return self.finish_pub(buf);
        }
        let Some(line) =
            framing::next_line::<OpName, ParseError>(buf, self.limits.max_control_line)?
        else {
            return Ok(None);
        };
        let args = line.args();
        let parsed = match line.op {
            OpName::Ping => Op::Ping,
            OpName::Pong => Op::Pong,
            OpName::Info => Op::Info(args),
            OpName::Ok => Op::Ok,
            // nats-server wants a separator and a text after -ERR.
            OpName::Err if line.args_at == b"-ERR".len() => return Err(ParseError::UnknownOp),
            OpName::Err => Op::Err(args),
            OpName::Connect => Op::Connect(args),
            OpName::Sub => parse_sub(args)?,
            OpName::Unsub => parse_unsub(args)?,
            OpName::Pub | OpName::HPub => {
                let hpub = line.op == OpName::HPub;
                let p = self.parse_pub_line(buf, line.text, line.args_at, line.len, hpub)?;
                self.pending.wait(p);
                return self.finish_pub(buf);
            }
        };
        Ok(Some((parsed, line.len)))
    }

    fn parse_pub_line(
        &self,
        buf: &[u8],
        line: &[u8],
        args_at: usize,
        line_len: usize,
        hpub: bool,
    ) -> Result<MsgLine<PubHead>, ParseError> {
        let name = if hpub { "HPUB" } else { "PUB" };
        if hpub && !self.limits.headers {
            return Err(ParseError::HeadersNotNegotiated);
        }
        let mut fields = [(0usize, 0usize); 5];
        let n = split_args(line, args_at, &mut fields);
        let base = line.as_ptr() as usize - buf.as_ptr() as usize;
        let at = |(s, e): Span| (base + s, base + e);
        let (subject, reply, header_len, total) = match (hpub, n) {
            (false, 2) => (fields[0], None, None, fields[1]),
            (false, 3) => (fields[0], Some(fields[1]), None, fields[2]),
            (true, 3) => (fields[0], None, Some(fields[1]), fields[2]),
            (true, 4) => (fields[0], Some(fields[1]), Some(fields[2]), fields[3]),
            _ => return Err(ParseError::BadArgs(name)),
        };
        let size = |(s, e): Span| parse_size(&line[s..e]);
        let total = size(total).ok_or(ParseError::BadArgs(name))?;
        let header_len = match header_len {
            Some(h) => {
                let h = size(h).ok_or(ParseError::BadArgs(name))?;
                if h > total {
                    return Err(ParseError::BadArgs(name));
                }
                // An empty header block is no header at all: nats-server
                // delivers such a message as a plain MSG.
                (h > 0).then_some(h)
            }
            None => None,
        };
        if total > self.limits.max_payload {
            return Err(ParseError::MaxPayload);
        }
        Ok(MsgLine {
            line_len,
            total,
            head: PubHead {
                subject: at(subject),
                reply: reply.map(at),
                header_len,
            },
        })
    }

    /// The PUB whose payload is awaited, once it and its CRLF arrived (see
    /// [`PendingPayload::take`] for how the terminator is judged).
    fn finish_pub<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        let Some(frame) = self.pending.take::<ParseError>(buf)? else {
            return Ok(None);
        };
        let p = frame.head;
        let op = Op::Pub {
            subject: &buf[p.subject.0..p.subject.1],
            reply: p.reply.map(|(s, e)| &buf[s..e]),
            header_len: p.header_len,
            payload: frame.payload,
        };
        Ok(Some((op, frame.len)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpName {
    Connect,
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Info,
    Ok,
    Err,
}

impl OpTable for OpName {
    /// Longest operation name, used to bound the scan for it.
    const MAX_NAME_LEN: usize = 8;

    fn may_start(b: u8) -> bool {
        matches!(
            b.to_ascii_uppercase(),
            b'C' | b'P' | b'H' | b'S' | b'U' | b'I' | b'+' | b'-'
        )
    }

    fn split_name(line: &[u8]) -> (&[u8], usize) {
        // nats-server takes whatever follows INFO as its argument, separator
        // or not (`INFO{...}`).
        if line.len() > 4
            && line[..4].eq_ignore_ascii_case(b"INFO")
            && !matches!(line[4], b' ' | b'\t')
        {
            return (&line[..4], 4);
        }
        framing::split_name(line, Self::MAX_NAME_LEN)
    }

    fn lookup(name: &[u8]) -> Option<OpName> {
        // PING and PONG ignore whatever follows on their line, as nats-server.
        if name.len() >= 4 {
            let head = [
                name[0].to_ascii_uppercase(),
                name[1].to_ascii_uppercase(),
                name[2].to_ascii_uppercase(),
                name[3].to_ascii_uppercase(),
            ];
            match &head {
                b"PING" => return Some(OpName::Ping),
                b"PONG" => return Some(OpName::Pong),
                _ => {}
            }
        }
        let eq = |s: &[u8]| name.eq_ignore_ascii_case(s);
        Some(if eq(b"PUB") {
            OpName::Pub
        } else if eq(b"HPUB") {
            OpName::HPub
        } else if eq(b"SUB") {
            OpName::Sub
        } else if eq(b"UNSUB") {
            OpName::Unsub
        } else if eq(b"CONNECT") {
            OpName::Connect
        } else if eq(b"INFO") {
            OpName::Info
        } else if name.len() >= 3 && name[..3].eq_ignore_ascii_case(b"+OK") {
            OpName::Ok
        } else if name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"-ERR") {
            OpName::Err
        } else {
            return None;
        })
    }

    /// Every op with arguments needs a separator after its name, as in
    /// nats-server ("SUB\r\n" is an unknown operation, not a bad SUB).
    fn takes_args(self) -> bool {
        matches!(
            self,
            OpName::Connect | OpName::Pub | OpName::HPub | OpName::Sub | OpName::Unsub
        )
    }
}

/// Splits arguments on runs of spaces/tabs into `out` (start, end) pairs
/// relative to `line`. Returns the count, or `out.len() + 1` when there are
/// more arguments than `out` holds.
fn split_args(line: &[u8], from: usize, out: &mut [Span]) -> usize {
    let mut n = 0;
    let mut at = from;
    while let Some(field) = framing::next_field(line, &mut at, framing::is_space) {
        if n == out.len() {
            return n + 1;
        }
        out[n] = field;
        n += 1;
    }
    n
}

fn parse_sub(line: &[u8]) -> Result<Op<'_>, ParseError> {
    let mut f = [(0usize, 0usize); 3];
    let n = split_args(line, 0, &mut f);
    let s = |(a, b): (usize, usize)| &line[a..b];
    match n {
        2 => Ok(Op::Sub {
            subject: s(f[0]),
            queue: None,
            sid: s(f[1]),
        }),
        3 => Ok(Op::Sub {
            subject: s(f[0]),
            queue: Some(s(f[1])),
            sid: s(f[2]),
        }),
        _ => Err(ParseError::BadArgs("SUB")),
    }
}

fn parse_unsub(line: &[u8]) -> Result<Op<'_>, ParseError> {
    let mut f = [(0usize, 0usize); 2];
    let n = split_args(line, 0, &mut f);
    let s = |(a, b): (usize, usize)| &line[a..b];
    match n {
        1 => Ok(Op::Unsub {
            sid: s(f[0]),
            max: UnsubMax::None,
        }),
        2 => Ok(Op::Unsub {
            sid: s(f[0]),
            max: match parse_size(s(f[1])) {
                Some(m) => UnsubMax::After(m as u64),
                None => UnsubMax::Invalid,
            },
        }),
        _ => Err(ParseError::BadArgs("UNSUB")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of an op, so results of different feeding strategies
    /// can be compared after their buffers are gone.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Owned {
        Connect(Vec<u8>),
        Pub(Vec<u8>, Option<Vec<u8>>, Option<usize>, Vec<u8>),
        Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
        Unsub(Vec<u8>, UnsubMax),
        Ping,
        Pong,
        Info,
        Ok,
        Err(Vec<u8>),
    }

    fn own(op: &Op<'_>) -> Owned {
        match op {
            Op::Connect(j) => Owned::Connect(j.to_vec()),
            Op::Pub {
                subject,
                reply,
                header_len,
                payload,
            } => Owned::Pub(
                subject.to_vec(),
                reply.map(<[u8]>::to_vec),
                *header_len,
                payload.to_vec(),
            ),
            Op::Sub {
                subject,
                queue,
                sid,
            } => Owned::Sub(subject.to_vec(), queue.map(<[u8]>::to_vec), sid.to_vec()),
            Op::Unsub { sid, max } => Owned::Unsub(sid.to_vec(), *max),
            Op::Ping => Owned::Ping,
            Op::Pong => Owned::Pong,
            Op::Info(_) => Owned::Info,
            Op::Ok => Owned::Ok,
            Op::Err(e) => Owned::Err(e.to_vec()),
        }
    }

    fn limits() -> Limits {
        Limits {
            max_control_line: 4096,
            max_payload: 1 << 20,
            headers: true,
        }
    }

    /// Feeds `input` in chunks of `chunk` bytes, as a reader would.
    fn feed(input: &[u8], chunk: usize) -> Result<Vec<Owned>, ParseError> {
        let mut p = Parser::new(limits());
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            let mut pos = 0;
            while let Some((op, n)) = p.next(&buf[pos..])? {
                out.push(own(&op));
                pos += n;
            }
            buf.drain(..pos);
        }
        Ok(out)
    }

    fn all(input: &[u8]) -> Result<Vec<Owned>, ParseError> {
        feed(input, input.len())
    }

    const STREAM: &[u8] = b"CONNECT {\"verbose\":false}\r\nPUB foo 5\r\nhello\r\n\
PUB foo.bar reply.x 3\r\nabc\r\nSUB foo 1\r\nSUB foo q 2\r\nUNSUB 1\r\nUNSUB 2 10\r\n\
HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB h r 12 12\r\nNATS/1.0\r\n\r\n\r\n\
PING\r\nPONG\r\nping\npub\tx\t\t0\r\n\r\n+OK\r\nINFO {}\r\nPUB bin 4\r\n\r\n\r\n\r\n";

    #[test]
    fn parses_every_op() {
        let ops = all(STREAM).unwrap();
        assert_eq!(
            ops,
            vec![
                Owned::Connect(b"{\"verbose\":false}".to_vec()),
                Owned::Pub(b"foo".to_vec(), None, None, b"hello".to_vec()),
                Owned::Pub(
                    b"foo.bar".to_vec(),
                    Some(b"reply.x".to_vec()),
                    None,
                    b"abc".to_vec()
                ),
                Owned::Sub(b"foo".to_vec(), None, b"1".to_vec()),
                Owned::Sub(b"foo".to_vec(), Some(b"q".to_vec()), b"2".to_vec()),
                Owned::Unsub(b"1".to_vec(), UnsubMax::None),
                Owned::Unsub(b"2".to_vec(), UnsubMax::After(10)),
                Owned::Pub(
                    b"h".to_vec(),
                    None,
                    Some(12),
                    b"NATS/1.0\r\n\r\nhi".to_vec()
                ),
                Owned::Pub(
                    b"h".to_vec(),
                    Some(b"r".to_vec()),
                    Some(12),
                    b"NATS/1.0\r\n\r\n".to_vec()
                ),
                Owned::Ping,
                Owned::Pong,
                Owned::Ping,
                Owned::Pub(b"x".to_vec(), None, None, vec![]),
                Owned::Ok,
                Owned::Info,
                Owned::Pub(b"bin".to_vec(), None, None, b"\r\n\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn one_byte_at_a_time_is_the_same() {
        let whole = all(STREAM).unwrap();
        assert_eq!(feed(STREAM, 1).unwrap(), whole);
    }

    #[test]
    fn every_split_point_is_the_same() {
        let whole = all(STREAM).unwrap();
        for at in 1..STREAM.len() {
            let mut p = Parser::new(limits());
            let mut out = Vec::new();
            let mut buf = STREAM[..at].to_vec();
            let mut pos = 0;
            while let Some((op, n)) = p.next(&buf[pos..]).unwrap() {
                out.push(own(&op));
                pos += n;
            }
            buf.drain(..pos);
            buf.extend_from_slice(&STREAM[at..]);
            pos = 0;
            while let Some((op, n)) = p.next(&buf[pos..]).unwrap() {
                out.push(own(&op));
                pos += n;
            }
            assert_eq!(out, whole, "split at {at}");
        }
    }

    #[test]
    fn ops_are_case_insensitive() {
        assert_eq!(
            all(b"sub foo 1\r\nPuB foo 1\r\nx\r\nunsub 1\r\nconnect {}\r\n").unwrap(),
            vec![
                Owned::Sub(b"foo".to_vec(), None, b"1".to_vec()),
                Owned::Pub(b"foo".to_vec(), None, None, b"x".to_vec()),
                Owned::Unsub(b"1".to_vec(), UnsubMax::None),
                Owned::Connect(b"{}".to_vec()),
            ]
        );
    }

    #[test]
    fn bad_args_close_without_error_text() {
        for line in [
            &b"PUB foo\r\n"[..],
            b"PUB foo x\r\n",
            b"PUB foo -1\r\n",
            b"PUB foo bar baz 1\r\n",
            b"PUB foo 1234567890\r\n",
            b"SUB foo\r\n",
            b"SUB foo bar baz qux\r\n",
            b"UNSUB 1 2 3\r\n",
            b"HPUB foo 30 24\r\n",
            b"HPUB foo 1\r\n",
        ] {
            let e = all(line).unwrap_err();
            assert!(matches!(e, ParseError::BadArgs(_)), "{line:?}: {e:?}");
            assert_eq!(e.client_error(), None);
        }
    }

    #[test]
    fn unknown_ops() {
        for line in [
            &b"FOO bar\r\n"[..],
            b"MSG foo 1 2\r\nhi\r\n",
            b"HMSG foo 1 2 2\r\nhi\r\n",
            b"\r\n",
            b"UNSUB\r\n",
            b"SUB\r\n",
            b"PUBX foo 1\r\n",
            b"XYZ",
        ] {
            assert_eq!(all(line).unwrap_err(), ParseError::UnknownOp, "{line:?}");
        }
        assert_eq!(
            ParseError::UnknownOp.client_error(),
            Some("Unknown Protocol Operation")
        );
    }

    #[test]
    fn payload_must_end_with_crlf() {
        assert_eq!(
            all(b"PUB foo 2\r\nhello\r\n").unwrap_err(),
            ParseError::UnknownOp
        );
    }

    #[test]
    fn max_payload_checked_on_the_line() {
        let mut p = Parser::new(Limits {
            max_payload: 10,
            ..limits()
        });
        assert_eq!(
            p.next(b"PUB foo 11\r\n").unwrap_err(),
            ParseError::MaxPayload
        );
        let mut p = Parser::new(Limits {
            max_payload: 10,
            ..limits()
        });
        assert_eq!(
            p.next(b"HPUB foo 5 11\r\n").unwrap_err(),
            ParseError::MaxPayload
        );
        let mut p = Parser::new(Limits {
            max_payload: 10,
            ..limits()
        });
        assert!(p.next(b"PUB foo 10\r\n").unwrap().is_none());
        assert_eq!(p.bytes_needed(), Some(12 + 10 + 2));
    }

    #[test]
    fn max_control_line_complete_and_partial() {
        let l = Limits {
            max_control_line: 16,
            ..limits()
        };
        let mut p = Parser::new(l);
        assert!(p.next(b"SUB aaaaaaaaaaaa 1\r\n").is_ok());
        let mut p = Parser::new(l);
        assert_eq!(
            p.next(b"SUB aaaaaaaaaaaaaaaaaaaaaaa 1\r\n").unwrap_err(),
            ParseError::MaxControlLine
        );
        let mut p = Parser::new(l);
        assert_eq!(
            p.next(b"PUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap_err(),
            ParseError::MaxControlLine
        );
        let mut p = Parser::new(l);
        assert_eq!(p.next(b"PUB aaaa").unwrap(), None);
    }

    #[test]
    fn unknown_op_wins_over_long_line_when_partial() {
        // Found by the protocol fuzz target: an unknown op name followed by
        // a long line was UnknownOp when the line arrived whole but
        // MaxControlLine when it arrived in pieces.
        let l = Limits {
            max_control_line: 16,
            ..limits()
        };
        for partial in [
            &b"PU aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..],
            b"PUBLISHXXaaaaaaaaaaaaaaaaaaaaaaaaaa",
            b"SUBB\taaaaaaaaaaaaaaaaaaaaaaaaaaaa\r",
        ] {
            let mut p = Parser::new(l);
            assert_eq!(
                p.next(partial).unwrap_err(),
                ParseError::UnknownOp,
                "{partial:?}"
            );
            let mut whole = partial.to_vec();
            whole.extend_from_slice(b"\r\n");
            let mut p = Parser::new(l);
            assert_eq!(p.next(&whole).unwrap_err(), ParseError::UnknownOp);
        }
        // A known op with a long line is still MaxControlLine.
        let mut p = Parser::new(l);
        assert_eq!(
            p.next(b"PING aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap_err(),
            ParseError::MaxControlLine
        );
        // An op name still being typed is not judged yet.
        let mut p = Parser::new(l);
        assert_eq!(p.next(b"CONNEC").unwrap(), None);
    }

    #[test]
    fn hpub_needs_headers_negotiated() {
        let mut p = Parser::new(Limits {
            headers: false,
            ..limits()
        });
        assert_eq!(
            p.next(b"HPUB foo 12 14\r\n").unwrap_err(),
            ParseError::HeadersNotNegotiated
        );
    }

    #[test]
    fn unsub_with_junk_count() {
        assert_eq!(
            all(b"UNSUB 1 x\r\n").unwrap(),
            vec![Owned::Unsub(b"1".to_vec(), UnsubMax::Invalid)]
        );
    }

    #[test]
    fn client_err_and_trailing_ping_text() {
        assert_eq!(
            all(b"PING foo bar\r\n-ERR 'x'\r\n").unwrap(),
            vec![Owned::Ping, Owned::Err(b"'x'".to_vec())]
        );
    }
}
