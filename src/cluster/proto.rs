//! The route (server-to-server) protocol: a parser for what a peer server
//! sends and encoders for what we send it, in nats-server's exact forms.
//!
//! The parser follows the client parser ([`crate::protocol::parser`]): it
//! never copies, every [`RouteOp`] borrows from the buffer it was given, and
//! the only state kept between calls is the header of a message whose payload
//! has not fully arrived, so a frame may be split at any byte and the result
//! is the same. Op names are case-insensitive, arguments are separated by runs
//! of spaces or tabs (and, as in nats-server's argument splitter, stray CRs),
//! and a control line may end in a bare `\n`; the two bytes after a payload
//! must be `\r\n`.
//!
//! Limits are checked as early as the bytes allow: the control line limit
//! (16 × the client `max_control_line` on server links, as nats-server) while
//! a line is still incomplete, the payload limit on the message line before
//! any payload is read.
//!
//! The framing (where a line ends, what an incomplete line may already be
//! refused for, the wait for a payload and its CRLF) is the client parser's,
//! shared in `protocol::framing`; this file holds the route's op table and
//! argument parsing.
//!
//! The forms, with `<acc>` absent on a pinned-account connection
//! ([`Parser::pinned_account`]):
//!
//! ```text
//! RS+ <acc> <subject> [<queue> <weight>]
//! RS- <acc> <subject> [<queue>]
//! LS+ <origin> <acc> <subject> [<queue> <weight>]
//! LS- [<origin>] <acc> <subject> [<queue>]         origin only if the peer sent lnocu
//! RMSG <acc> <subject> [<reply>] <size>
//! RMSG <acc> <subject> + <reply> <queue>... <size>
//! RMSG <acc> <subject> | <queue>... <size>
//! HMSG <acc> <subject> ... <hdr> <size>            the same three forms
//! LMSG <origin> <acc> <subject> ... <hdr> <size>   the same three forms, hdr always present
//! ```

use bytes::{BufMut, BytesMut};

use crate::protocol::encode::Message;
use crate::protocol::framing::{
    self, parse_size, FrameErrors, MsgLine, OpTable, PendingPayload, Span,
};
use crate::server::close::CloseReason;

/// One operation received from a route, borrowing from the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp<'a> {
    /// `INFO <json>`: the JSON as sent (nats-server may leave a trailing
    /// space before the line end; JSON parsers skip it).
    Info(&'a [u8]),
    /// `CONNECT <json>`.
    Connect(&'a [u8]),
    Ping,
    Pong,
    Ok,
    /// `-ERR <text>`: the text as sent, quotes included.
    Err(&'a [u8]),
    /// `RS+` (`origin` is `None`) or `LS+` (`origin` is the cluster of the
    /// leafnode the interest came from).
    Sub {
        origin: Option<&'a [u8]>,
        /// `None` on a pinned-account connection.
        account: Option<&'a [u8]>,
        subject: &'a [u8],
        /// The queue group and the peer's number of members in it.
        queue: Option<(&'a [u8], u32)>,
    },
    /// `RS-` or `LS-`.
    Unsub {
        /// `LS-`: interest that came from a leafnode. nats-server keys such
        /// interest apart from the route's own (`L …` vs `R …`).
        leaf: bool,
        /// The origin cluster; only an `LS-` from a peer that advertised
        /// `lnocu` carries it ([`Parser::leaf_unsub_origin`]).
        origin: Option<&'a [u8]>,
        /// `None` on a pinned-account connection.
        account: Option<&'a [u8]>,
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
    },
    /// `RMSG`, `HMSG` or `LMSG` (`origin` is `Some`).
    Msg {
        origin: Option<&'a [u8]>,
        /// `None` on a pinned-account connection.
        account: Option<&'a [u8]>,
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        /// Queue groups the sender already picked this server for.
        queues: Queues<'a>,
        /// Size of the header block at the start of `payload`. `Some` only
        /// for a non-empty block: nats-server treats a header size of 0 as
        /// no headers (LMSG always carries the field, 0 when there are none).
        header_len: Option<usize>,
        /// Headers (if any) followed by the body.
        payload: &'a [u8],
    },
}

/// The queue names of a routed message: the span of the line that holds
/// them, split on demand so parsing allocates nothing however many groups a
/// message names.
#[derive(Clone, Copy, Default)]
pub struct Queues<'a> {
    raw: &'a [u8],
}

impl<'a> Queues<'a> {
    /// The names as they appeared on the line, separators included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The number of names (a scan of the span).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn iter(&self) -> QueueIter<'a> {
        QueueIter {
            raw: self.raw,
            at: 0,
        }
    }
}

impl<'a> IntoIterator for Queues<'a> {
    type Item = &'a [u8];
    type IntoIter = QueueIter<'a>;

    fn into_iter(self) -> QueueIter<'a> {
        self.iter()
    }
}

/// Two lists are equal when they name the same groups in the same order,
/// however they were spaced on the line.
impl PartialEq for Queues<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Queues<'_> {}

impl std::fmt::Debug for Queues<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Iterator over the names of a [`Queues`].
#[derive(Debug, Clone)]
pub struct QueueIter<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Iterator for QueueIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (start, end) = framing::next_field(self.raw, &mut self.at, is_arg_sep)?;
        Some(&self.raw[start..end])
    }
}

/// Why parsing stopped; the connection must be closed. See
/// [`ParseError::err_text`] and [`ParseError::close_reason`] for what
/// nats-server does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown protocol operation")]
    UnknownOp,
    #[error("maximum control line exceeded")]
    MaxControlLine,
    #[error("maximum payload exceeded")]
    MaxPayload,
    /// Malformed arguments. `text` is what nats-server logs for the same
    /// line (its wording, from the function that rejects it).
    #[error("{text}")]
    BadArgs {
        op: ArgsOf,
        problem: ArgsProblem,
        text: String,
    },
}

/// Which kind of line had malformed arguments, named after the nats-server
/// function that parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsOf {
    /// `RS+` / `LS+` (`processRemoteSub`).
    RemoteSub,
    /// `RS-` / `LS-` (`processRemoteUnsub`).
    RemoteUnsub,
    /// `RMSG` (`processRoutedMsgArgs`).
    RoutedMsg,
    /// `HMSG` (`processRoutedHeaderMsgArgs`).
    RoutedHeaderMsg,
    /// `LMSG` (`processRoutedOriginClusterMsgArgs`).
    OriginClusterMsg,
}

impl ArgsOf {
    fn go_func(self) -> &'static str {
        match self {
            ArgsOf::RemoteSub => "processRemoteSub",
            ArgsOf::RemoteUnsub => "processRemoteUnsub",
            ArgsOf::RoutedMsg => "processRoutedMsgArgs",
            ArgsOf::RoutedHeaderMsg => "processRoutedHeaderMsgArgs",
            ArgsOf::OriginClusterMsg => "processRoutedOriginClusterMsgArgs",
        }
    }
}

/// What was wrong with the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsProblem {
    /// Too few or too many fields.
    Count,
    /// A message with queues whose third field is not `+` or `|`.
    ReplyIndicator,
    /// The header size is not a number.
    HeaderSize,
    /// The total size is not a number.
    Size,
    /// The header size is larger than the total size.
    HeaderOverTotal,
    /// The queue weight of `RS+`/`LS+` is not a number. nats-server takes
    /// such a weight as -1 without complaint; a well-behaved peer never
    /// sends one, so rnats refuses it.
    QueueWeight,
}

impl ParseError {
    /// The `-ERR` text sent before closing, or `None` when nats-server closes
    /// without a word (malformed arguments are only logged). nats-server has
    /// no payload check on routes; for [`ParseError::MaxPayload`] this is
    /// what it sends a client or leafnode.
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOp => Some("Unknown Protocol Operation"),
            ParseError::MaxControlLine => Some("maximum control line exceeded"),
            ParseError::MaxPayload => Some("Maximum Payload Violation"),
            ParseError::BadArgs { .. } => None,
        }
    }

    /// The reason nats-server records when it closes the connection.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            ParseError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            ParseError::MaxPayload => CloseReason::MaxPayloadExceeded,
            ParseError::UnknownOp | ParseError::BadArgs { .. } => CloseReason::ProtocolViolation,
        }
    }
}

/// What the shared framing reports maps to these errors one to one.
impl FrameErrors for ParseError {
    const UNKNOWN_OP: Self = ParseError::UnknownOp;
    const MAX_CONTROL_LINE: Self = ParseError::MaxControlLine;
}

/// Limits the parser enforces on one route connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest argument text of a control line, already scaled for server
    /// links (see [`Limits::for_route`]).
    pub max_control_line: usize,
    /// Largest message (headers + body). nats-server checks no payload limit
    /// on routes at all: a message may be as large as the sending server's
    /// `max_payload` plus what that server adds in headers, so set this at
    /// least to the largest `max_payload` in the cluster, with room to spare.
    pub max_payload: usize,
}

/// How much longer a server link's control lines may be than a client's:
/// origin, account, reply and queue names all share the line.
pub const ROUTE_CONTROL_LINE_FACTOR: usize = 16;

impl Limits {
    /// The limits of a route given the server's client `max_control_line`.
    pub const fn for_route(client_max_control_line: usize, max_payload: usize) -> Self {
        Limits {
            max_control_line: client_max_control_line.saturating_mul(ROUTE_CONTROL_LINE_FACTOR),
            max_payload,
        }
    }
}

impl Default for Limits {
    /// 16 × the default 4096-byte client control line; 64 MiB messages.
    fn default() -> Self {
        Limits::for_route(4096, 64 * 1024 * 1024)
    }
}

/// What a message line leaves for its payload to complete. Offsets are
/// relative to the start of the buffer passed to [`Parser::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MsgHead {
    origin: Option<Span>,
    account: Option<Span>,
    subject: Span,
    reply: Option<Span>,
    queues: Span,
    header_len: Option<usize>,
}

/// The parser state for one route connection.
#[derive(Debug, Default)]
pub struct Parser {
    pub limits: Limits,
    /// The connection carries one account only (`route_account`), so no
    /// protocol names it. Set it as soon as that is known; it applies from
    /// the next control line on.
    pub pinned_account: bool,
    /// The peer advertised `lnocu`: its `LS-` carries the origin cluster.
    pub leaf_unsub_origin: bool,
    pending: PendingPayload<MsgHead>,
}

impl Parser {
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            ..Parser::default()
        }
    }

    /// How many bytes the buffer must hold for the next frame to complete,
    /// when that is known (a message whose payload is still arriving), so the
    /// reader can reserve room for a large payload in one step.
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
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(RouteOp<'a>, usize)>, ParseError> {
        if self.pending.is_waiting() {
            return self.finish_msg(buf);
        }
        let Some(line) =
            framing::next_line::<OpName, ParseError>(buf, self.limits.max_control_line)?
        else {
            return Ok(None);
        };
        let args = line.args();
        let parsed = match line.op {
            OpName::Info => RouteOp::Info(args),
            OpName::Connect => RouteOp::Connect(args),
            OpName::Ping => RouteOp::Ping,
            OpName::Pong => RouteOp::Pong,
            OpName::Ok => RouteOp::Ok,
            OpName::Err => RouteOp::Err(args),
            OpName::RSub | OpName::LSub => self.parse_sub(args, line.op == OpName::LSub)?,
            OpName::RUnsub | OpName::LUnsub => self.parse_unsub(args, line.op == OpName::LUnsub)?,
            OpName::RMsg | OpName::HMsg | OpName::LMsg => {
                let p =
                    self.parse_msg_line(line.text, line.args_at, line.len, MsgForm::of(line.op))?;
                self.pending.wait(p);
                return self.finish_msg(buf);
            }
        };
        Ok(Some((parsed, line.len)))
    }

    /// `RS+`/`LS+`: `[origin] [account] subject [queue weight]`.
    fn parse_sub<'a>(&self, args: &'a [u8], leaf: bool) -> Result<RouteOp<'a>, ParseError> {
        let t = Tokens::split(args);
        let subject_at = usize::from(leaf) + usize::from(!self.pinned_account);
        let bad = |problem| bad_interest(ArgsOf::RemoteSub, problem, leaf, args);
        let field = |i| {
            t.get(i)
                .map(|(s, e)| &args[s..e])
                .ok_or_else(|| bad(ArgsProblem::Count))
        };
        let queue = if t.n == subject_at + 1 {
            None
        } else if t.n == subject_at + 3 {
            let weight = parse_size(field(subject_at + 2)?)
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| bad(ArgsProblem::QueueWeight))?;
            Some((field(subject_at + 1)?, weight))
        } else {
            return Err(bad(ArgsProblem::Count));
        };
        Ok(RouteOp::Sub {
            origin: if leaf { Some(field(0)?) } else { None },
            account: self.account_field(field, subject_at)?,
            subject: field(subject_at)?,
            queue,
        })
    }

    /// `RS-`/`LS-`: `[origin] [account] subject [queue]`.
    fn parse_unsub<'a>(&self, args: &'a [u8], leaf: bool) -> Result<RouteOp<'a>, ParseError> {
        let t = Tokens::split(args);
        let has_origin = leaf && self.leaf_unsub_origin;
        let subject_at = usize::from(has_origin) + usize::from(!self.pinned_account);
        let bad = || bad_interest(ArgsOf::RemoteUnsub, ArgsProblem::Count, leaf, args);
        let field = |i| t.get(i).map(|(s, e)| &args[s..e]).ok_or_else(bad);
        let queue = if t.n == subject_at + 1 {
            None
        } else if t.n == subject_at + 2 {
            Some(field(subject_at + 1)?)
        } else {
            return Err(bad());
        };
        Ok(RouteOp::Unsub {
            leaf,
            origin: if has_origin { Some(field(0)?) } else { None },
            account: self.account_field(field, subject_at)?,
            subject: field(subject_at)?,
            queue,
        })
    }

    /// The account of an interest line: the field before the subject,
    /// unless the connection is pinned to one account.
    fn account_field<'a>(
        &self,
        field: impl Fn(usize) -> Result<&'a [u8], ParseError>,
        subject_at: usize,
    ) -> Result<Option<&'a [u8]>, ParseError> {
        if self.pinned_account {
            Ok(None)
        } else {
            field(subject_at - 1).map(Some)
        }
    }

    /// Parses the control line of a message, field by field as nats-server
    /// does: the count of fields decides the form, the last one or two are
    /// the sizes, and a third field of `+`/`|` introduces queue names.
    fn parse_msg_line(
        &self,
        line: &[u8],
        args_at: usize,
        line_len: usize,
        form: MsgForm,
    ) -> Result<MsgLine<MsgHead>, ParseError> {
        let a = MsgArgs::new(&line[args_at..], form, self.pinned_account);
        if a.len() < form.fixed_fields() + form.size_fields() {
            return Err(a.count_error());
        }
        let (reply, queues) = a.reply_and_queues()?;
        let (header_len, total) = a.sizes()?;
        if total > self.limits.max_payload {
            return Err(ParseError::MaxPayload);
        }
        let at = |(s, e): Span| (args_at + s, args_at + e);
        let origin = match form {
            MsgForm::Leaf => Some(at(a.field(0)?)),
            _ => None,
        };
        Ok(MsgLine {
            line_len,
            total,
            head: MsgHead {
                origin,
                account: a.account().map(at),
                subject: at(a.field(form.account_at() + 1)?),
                reply: reply.map(at),
                queues: queues.map_or((0, 0), at),
                header_len: header_len.filter(|&h| h > 0),
            },
        })
    }

    /// Completes the awaited message once its payload and the CRLF after it
    /// are in `buf` (see [`PendingPayload::take`]: a wrong byte where the
    /// CRLF belongs is an error as soon as it arrives, the peer's size was a
    /// lie).
    fn finish_msg<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(RouteOp<'a>, usize)>, ParseError> {
        let Some(frame) = self.pending.take::<ParseError>(buf)? else {
            return Ok(None);
        };
        let p = frame.head;
        let s = |(a, b): Span| &buf[a..b];
        let op = RouteOp::Msg {
            origin: p.origin.map(s),
            account: p.account.map(s),
            subject: s(p.subject),
            reply: p.reply.map(s),
            queues: Queues { raw: s(p.queues) },
            header_len: p.header_len,
            payload: frame.payload,
        };
        Ok(Some((op, frame.len)))
    }
}

/// The three message ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgForm {
    /// `RMSG`: no header size.
    Plain,
    /// `HMSG`: header size before the total.
    Headers,
    /// `LMSG`: origin cluster first, header size always present.
    Leaf,
}

impl MsgForm {
    fn of(op: OpName) -> Self {
        match op {
            OpName::HMsg => MsgForm::Headers,
            OpName::LMsg => MsgForm::Leaf,
            _ => MsgForm::Plain,
        }
    }

    fn args_of(self) -> ArgsOf {
        match self {
            MsgForm::Plain => ArgsOf::RoutedMsg,
            MsgForm::Headers => ArgsOf::RoutedHeaderMsg,
            MsgForm::Leaf => ArgsOf::OriginClusterMsg,
        }
    }

    /// Where the account field is (counting it even when pinned).
    fn account_at(self) -> usize {
        usize::from(self == MsgForm::Leaf)
    }

    /// Fields before the reply / queue part: [origin,] account, subject.
    fn fixed_fields(self) -> usize {
        self.account_at() + 2
    }

    fn has_header_field(self) -> bool {
        self != MsgForm::Plain
    }

    fn size_fields(self) -> usize {
        1 + usize::from(self.has_header_field())
    }
}

/// The fields of a message line as nats-server counts them: on a pinned
/// connection it inserts the connection's account where the line omits it,
/// so the same field positions hold with or without an account on the wire.
struct MsgArgs<'a> {
    args: &'a [u8],
    t: Tokens,
    form: MsgForm,
    pinned: bool,
}

impl<'a> MsgArgs<'a> {
    fn new(args: &'a [u8], form: MsgForm, pinned: bool) -> Self {
        MsgArgs {
            args,
            t: Tokens::split(args),
            form,
            pinned,
        }
    }

    /// The field count, the pinned account included.
    fn len(&self) -> usize {
        self.t.n + usize::from(self.pinned)
    }

    /// The span of field `v`. Asking for the pinned account, which is not on
    /// the line, or for a field that is not there is a count error (the
    /// callers check the count first, so neither happens).
    fn field(&self, v: usize) -> Result<Span, ParseError> {
        let real = if self.pinned && v >= self.form.account_at() {
            (v != self.form.account_at()).then(|| v - 1)
        } else {
            Some(v)
        };
        real.and_then(|r| self.t.get(r))
            .ok_or_else(|| self.count_error())
    }

    fn text(&self, (s, e): Span) -> &'a [u8] {
        &self.args[s..e]
    }

    fn account(&self) -> Option<Span> {
        if self.pinned {
            None
        } else {
            self.t.get(self.form.account_at())
        }
    }

    /// The reply and the span of the queue names, by the field count: none
    /// of them, a reply alone, or `+ <reply> <queues>` / `| <queues>`.
    fn reply_and_queues(&self) -> Result<(Option<Span>, Option<Span>), ParseError> {
        let n = self.len();
        let fixed = self.form.fixed_fields();
        let sizes = self.form.size_fields();
        if n == fixed + sizes {
            return Ok((None, None));
        }
        if n == fixed + sizes + 1 {
            return Ok((Some(self.field(fixed)?), None));
        }
        let indicator = self.text(self.field(fixed)?);
        let (reply, first_queue) = match indicator {
            b"+" => (Some(self.field(fixed + 1)?), fixed + 2),
            b"|" => (None, fixed + 1),
            other => return Err(self.error(ArgsProblem::ReplyIndicator, other)),
        };
        let last_queue = n - sizes - 1;
        let queues = if first_queue <= last_queue {
            Some((self.field(first_queue)?.0, self.field(last_queue)?.1))
        } else {
            None
        };
        Ok((reply, queues))
    }

    /// The header size (HMSG, LMSG) and the total size, checked in
    /// nats-server's order.
    fn sizes(&self) -> Result<(Option<usize>, usize), ParseError> {
        let n = self.len();
        let size = |v| self.field(v).map(|f| parse_size(self.text(f)));
        let header_len = if self.form.has_header_field() {
            let h = size(n - 2)?;
            Some(h.ok_or_else(|| self.error(ArgsProblem::HeaderSize, self.args))?)
        } else {
            None
        };
        let total =
            size(n - 1)?.ok_or_else(|| self.error(ArgsProblem::Size, &args_list(self.args)))?;
        if header_len.is_some_and(|h| h > total) {
            return Err(self.error(ArgsProblem::HeaderOverTotal, self.args));
        }
        Ok((header_len, total))
    }

    fn count_error(&self) -> ParseError {
        self.error(ArgsProblem::Count, &args_list(self.args))
    }

    fn error(&self, problem: ArgsProblem, shown: &[u8]) -> ParseError {
        bad_msg(self.form.args_of(), problem, shown)
    }
}

/// The fields of an argument text, without storing them all: a message may
/// name any number of queue groups, but only the first few fields and the
/// last three are ever looked at, so those are kept and the rest counted.
#[derive(Debug, Clone, Copy)]
struct Tokens {
    n: usize,
    head: [Span; Tokens::HEAD],
    tail: [Span; Tokens::TAIL],
}

impl Tokens {
    /// `LMSG origin acc subj + reply q…`: the first queue is field 5.
    const HEAD: usize = 6;
    /// Header size, total size and the end of the last queue name.
    const TAIL: usize = 3;

    fn split(args: &[u8]) -> Self {
        let mut t = Tokens {
            n: 0,
            head: [(0, 0); Tokens::HEAD],
            tail: [(0, 0); Tokens::TAIL],
        };
        let mut at = 0;
        while let Some(field) = framing::next_field(args, &mut at, is_arg_sep) {
            if t.n < Tokens::HEAD {
                t.head[t.n] = field;
            }
            t.tail[t.n % Tokens::TAIL] = field;
            t.n += 1;
        }
        t
    }

    /// Field `i`, if it exists and is one of those kept.
    fn get(&self, i: usize) -> Option<Span> {
        if i >= self.n {
            None
        } else if i < Tokens::HEAD {
            Some(self.head[i])
        } else if i + Tokens::TAIL >= self.n {
            Some(self.tail[i % Tokens::TAIL])
        } else {
            None
        }
    }
}

/// Separators between arguments: nats-server's argument splitters also
/// split on CR (and LF, which cannot occur inside a line).
fn is_arg_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// `processRemoteSub Parse Error: 'R <args>'`: nats-server prefixes the
/// arguments with `R` or `L` before splitting them, and shows them so.
/// `processRemoteUnsub parse error: '<args>'` shows them bare.
fn bad_interest(op: ArgsOf, problem: ArgsProblem, leaf: bool, args: &[u8]) -> ParseError {
    let args = String::from_utf8_lossy(args);
    let text = match (op, problem) {
        (ArgsOf::RemoteUnsub, _) => format!("processRemoteUnsub parse error: '{args}'"),
        (_, ArgsProblem::QueueWeight) => {
            let kind = if leaf { 'L' } else { 'R' };
            format!("processRemoteSub Bad Queue Weight: '{kind} {args}'")
        }
        _ => {
            let kind = if leaf { 'L' } else { 'R' };
            format!("processRemoteSub Parse Error: '{kind} {args}'")
        }
    };
    ParseError::BadArgs { op, problem, text }
}

/// A message-line error in nats-server's words; `shown` is what its
/// message quotes (the raw arguments, their list, or one field).
fn bad_msg(op: ArgsOf, problem: ArgsProblem, shown: &[u8]) -> ParseError {
    let what = match problem {
        ArgsProblem::Count => "Parse Error",
        ArgsProblem::ReplyIndicator => "Bad or Missing Reply Indicator",
        ArgsProblem::HeaderSize => "Bad or Missing Header Size",
        ArgsProblem::Size => "Bad or Missing Size",
        ArgsProblem::HeaderOverTotal => "Header Size larger then TotalSize",
        ArgsProblem::QueueWeight => "Bad Queue Weight",
    };
    let text = format!(
        "{} {what}: '{}'",
        op.go_func(),
        String::from_utf8_lossy(shown)
    );
    ParseError::BadArgs { op, problem, text }
}

/// The fields as Go prints a `[][]byte` with `%s`: `[a b c]`. On a pinned
/// connection nats-server would also show the account it inserted, which
/// this parser does not know by name.
fn args_list(args: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(args.len() + 2);
    out.push(b'[');
    for (i, f) in (Queues { raw: args }).iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f);
    }
    out.push(b']');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpName {
    Info,
    Connect,
    Ping,
    Pong,
    Ok,
    Err,
    RSub,
    RUnsub,
    LSub,
    LUnsub,
    RMsg,
    HMsg,
    LMsg,
}

impl OpTable for OpName {
    /// Longest operation name (`CONNECT`), used to bound the scan for it.
    const MAX_NAME_LEN: usize = 7;

    /// First bytes of the ops a route may send.
    fn may_start(b: u8) -> bool {
        matches!(
            b.to_ascii_uppercase(),
            b'R' | b'L' | b'H' | b'I' | b'C' | b'P' | b'+' | b'-'
        )
    }

    fn lookup(name: &[u8]) -> Option<OpName> {
        // nats-server reads PING, PONG and +OK up to the newline, whatever
        // follows the name.
        let prefix = |p: &[u8]| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p);
        if prefix(b"PING") {
            return Some(OpName::Ping);
        }
        if prefix(b"PONG") {
            return Some(OpName::Pong);
        }
        if prefix(b"+OK") {
            return Some(OpName::Ok);
        }
        const NAMES: [(&[u8], OpName); 10] = [
            (b"RS+", OpName::RSub),
            (b"RS-", OpName::RUnsub),
            (b"LS+", OpName::LSub),
            (b"LS-", OpName::LUnsub),
            (b"RMSG", OpName::RMsg),
            (b"HMSG", OpName::HMsg),
            (b"LMSG", OpName::LMsg),
            (b"INFO", OpName::Info),
            (b"CONNECT", OpName::Connect),
            (b"-ERR", OpName::Err),
        ];
        NAMES
            .iter()
            .find(|(n, _)| name.eq_ignore_ascii_case(n))
            .map(|&(_, op)| op)
    }

    /// PING, PONG and +OK ignore whatever follows them on the line; the
    /// others need a separator after the name ("RS+\r\n" is an unknown
    /// operation, not a bad RS+, as in nats-server).
    fn takes_args(self) -> bool {
        !matches!(self, OpName::Ping | OpName::Pong | OpName::Ok)
    }
}

// ---------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------

/// Appends `RS+ [<acc> ]<subject>[ <queue> <weight>]\r\n`. `account` is
/// `None` on a pinned-account connection. A queue's weight is the number of
/// local members; when it drops to 0 send [`rs_minus`] instead (nats-server
/// writes no digits for 0, which its own parser would reject).
pub fn rs_plus(
    out: &mut BytesMut,
    account: Option<&str>,
    subject: &str,
    queue: Option<(&str, u32)>,
) {
    let queue = queue.map(|(q, w)| (q, Some(w)));
    interest(out, b"RS+ ", [None, account], subject, queue);
}

/// Appends `RS- [<acc> ]<subject>[ <queue>]\r\n`.
pub fn rs_minus(out: &mut BytesMut, account: Option<&str>, subject: &str, queue: Option<&str>) {
    let queue = queue.map(|q| (q, None));
    interest(out, b"RS- ", [None, account], subject, queue);
}

/// Appends `LS+ <origin> [<acc> ]<subject>[ <queue> <weight>]\r\n`: interest
/// that came from a leafnode of cluster `origin`, for peers that sent `lnoc`
/// (others get [`rs_plus`]).
pub fn ls_plus(
    out: &mut BytesMut,
    origin: &str,
    account: Option<&str>,
    subject: &str,
    queue: Option<(&str, u32)>,
) {
    let queue = queue.map(|(q, w)| (q, Some(w)));
    interest(out, b"LS+ ", [Some(origin), account], subject, queue);
}

/// Appends `LS- [<origin> ][<acc> ]<subject>[ <queue>]\r\n`. Pass the origin
/// only to a peer that sent `lnocu`; older peers expect `LS-` without it.
pub fn ls_minus(
    out: &mut BytesMut,
    origin: Option<&str>,
    account: Option<&str>,
    subject: &str,
    queue: Option<&str>,
) {
    let queue = queue.map(|q| (q, None));
    interest(out, b"LS- ", [origin, account], subject, queue);
}

/// The shared layout of the four interest lines, written with one
/// reservation: the op, the optional origin and account, the subject, and
/// the queue with its weight (`RS+`/`LS+`) or without (`RS-`/`LS-`).
fn interest(
    out: &mut BytesMut,
    op: &[u8; 4],
    prefix: [Option<&str>; 2],
    subject: &str,
    queue: Option<(&str, Option<u32>)>,
) {
    let mut num = itoa::Buffer::new();
    let (queue, weight) = match queue {
        Some((q, w)) => (Some(q), w.map(|w| num.format(w).as_bytes())),
        None => (None, None),
    };
    let field = |f: Option<&[u8]>| f.map_or(0, |f| f.len() + 1);
    out.reserve(
        op.len()
            + prefix
                .iter()
                .map(|f| field(f.map(str::as_bytes)))
                .sum::<usize>()
            + subject.len()
            + field(queue.map(str::as_bytes))
            + field(weight)
            + 2,
    );
    out.put_slice(op);
    for f in prefix.into_iter().flatten() {
        out.put_slice(f.as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice(subject.as_bytes());
    for f in queue.map(str::as_bytes).into_iter().chain(weight) {
        out.put_u8(b' ');
        out.put_slice(f);
    }
    out.put_slice(b"\r\n");
}

/// Appends the RMSG or HMSG frame forwarding `msg` to a route, as
/// nats-server writes it:
///
/// ```text
/// RMSG <acc> <subject> [<reply>] <size>           no queue groups
/// RMSG <acc> <subject> + <reply> <q>... <size>    queue groups, with reply
/// RMSG <acc> <subject> | <q>... <size>            queue groups, no reply
/// HMSG ... <hdr> <size>                           headers (non-empty block)
/// ```
///
/// `account` is `None` on a pinned-account connection; `queues` are the
/// groups this peer was picked for. A peer without header support
/// (`peer_headers` false) gets RMSG with the header block removed. An empty
/// reply counts as none.
pub fn rmsg(
    out: &mut BytesMut,
    account: Option<&str>,
    msg: &Message<'_>,
    queues: &[&[u8]],
    peer_headers: bool,
) {
    let hdr = msg.header_len.filter(|&h| h > 0);
    match hdr {
        Some(h) if peer_headers => {
            frame(
                out,
                b"HMSG ",
                [None, account],
                msg,
                queues,
                Some(h),
                msg.payload,
            );
        }
        _ => {
            let body = msg.payload.get(hdr.unwrap_or(0)..).unwrap_or_default();
            frame(out, b"RMSG ", [None, account], msg, queues, None, body);
        }
    }
}

/// Appends the LMSG frame forwarding `msg`, which entered through a leafnode
/// of cluster `origin`, to a peer that sent `lnoc`:
/// `LMSG <origin> <acc> <subject> [reply / queue part as RMSG] <hdr> <size>`,
/// the header size always present (0 without headers).
pub fn lmsg(
    out: &mut BytesMut,
    origin: &str,
    account: Option<&str>,
    msg: &Message<'_>,
    queues: &[&[u8]],
) {
    let hdr = msg.header_len.unwrap_or(0);
    let prefix = [Some(origin), account];
    frame(out, b"LMSG ", prefix, msg, queues, Some(hdr), msg.payload);
}

/// The shared layout of the message frames, written with one reservation:
/// the op, the optional origin and account, subject, reply and queue part,
/// the optional header size, then `payload` (which may be `msg.payload`
/// without its headers).
fn frame(
    out: &mut BytesMut,
    op: &[u8; 5],
    prefix: [Option<&str>; 2],
    msg: &Message<'_>,
    queues: &[&[u8]],
    header_len: Option<usize>,
    payload: &[u8],
) {
    let reply = msg.reply.filter(|r| !r.is_empty());
    let mut hdr_num = itoa::Buffer::new();
    let mut size_num = itoa::Buffer::new();
    let hdr = header_len.map(|h| hdr_num.format(h).as_bytes());
    let size = size_num.format(payload.len()).as_bytes();
    let field = |f: Option<&[u8]>| f.map_or(0, |f| f.len() + 1);
    let indicator = if queues.is_empty() { 0 } else { 2 };
    out.reserve(
        op.len()
            + prefix
                .iter()
                .map(|f| field(f.map(str::as_bytes)))
                .sum::<usize>()
            + msg.subject.len()
            + 1
            + indicator
            + field(reply)
            + queues.iter().map(|q| q.len() + 1).sum::<usize>()
            + field(hdr)
            + size.len()
            + 2
            + payload.len()
            + 2,
    );
    out.put_slice(op);
    for f in prefix.into_iter().flatten() {
        out.put_slice(f.as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    if !queues.is_empty() {
        out.put_slice(if reply.is_some() { b"+ " } else { b"| " });
    }
    for f in reply.into_iter().chain(queues.iter().copied()) {
        out.put_slice(f);
        out.put_u8(b' ');
    }
    if let Some(h) = hdr {
        out.put_slice(h);
        out.put_u8(b' ');
    }
    out.put_slice(size);
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Differential check used by the `route_protocol` fuzz target and by
/// `cargo test` when replaying its seeds: parsing an input whole, one byte at
/// a time and in arbitrary pieces must give the same ops and the same error,
/// every interest and message op must come back unchanged from its encoder,
/// and nothing may panic.
#[doc(hidden)]
pub mod replay {
    use super::*;
    use crate::protocol::replay::{printed, splits_agree};

    /// The parser settings a seed selects: all four combinations of a
    /// pinned-account connection and a peer that sent `lnocu`, with small
    /// limits so the fuzzer reaches them.
    fn parser(seed: u8) -> Parser {
        let mut p = Parser::new(Limits::for_route(16, 512));
        p.pinned_account = seed & 1 != 0;
        p.leaf_unsub_origin = seed & 2 != 0;
        p
    }

    /// Encodes `op` again (when it has an encoder and its names are UTF-8)
    /// and checks that parsing the result gives `op` back.
    pub fn round_trip(op: &RouteOp<'_>, seed: u8) {
        let Some(encoded) = encode(op) else {
            return;
        };
        let mut p = parser(seed);
        p.limits = Limits::for_route(usize::MAX / 16, usize::MAX);
        match p.next(&encoded) {
            Ok(Some((again, used))) => {
                assert_eq!(&again, op, "round trip of {encoded:?}");
                assert_eq!(used, encoded.len(), "round trip of {encoded:?}");
            }
            other => panic!("round trip of {encoded:?}: {other:?}"),
        }
    }

    fn encode(op: &RouteOp<'_>) -> Option<BytesMut> {
        let text = |b: &[u8]| std::str::from_utf8(b).ok().map(|s| s.to_owned());
        // Absent stays absent; present but not UTF-8 gives up on the op.
        let opt = |b: Option<&[u8]>| match b {
            None => Some(None),
            Some(b) => text(b).map(Some),
        };
        let mut out = BytesMut::new();
        match *op {
            RouteOp::Sub {
                origin,
                account,
                subject,
                queue,
            } => {
                let (acc, subj) = (opt(account)?, text(subject)?);
                let q = match queue {
                    Some((q, w)) => Some((text(q)?, w)),
                    None => None,
                };
                let q = q.as_ref().map(|(q, w)| (q.as_str(), *w));
                match opt(origin)? {
                    Some(o) => ls_plus(&mut out, &o, acc.as_deref(), &subj, q),
                    None => rs_plus(&mut out, acc.as_deref(), &subj, q),
                }
            }
            RouteOp::Unsub {
                leaf,
                origin,
                account,
                subject,
                queue,
            } => {
                let (acc, subj, q) = (opt(account)?, text(subject)?, opt(queue)?);
                if leaf {
                    let o = opt(origin)?;
                    ls_minus(&mut out, o.as_deref(), acc.as_deref(), &subj, q.as_deref());
                } else {
                    rs_minus(&mut out, acc.as_deref(), &subj, q.as_deref());
                }
            }
            RouteOp::Msg {
                origin,
                account,
                subject,
                reply,
                queues,
                header_len,
                payload,
            } => {
                let acc = opt(account)?;
                let qs: Vec<&[u8]> = queues.iter().collect();
                let msg = Message {
                    subject,
                    reply,
                    header_len,
                    payload,
                };
                match opt(origin)? {
                    Some(o) => lmsg(&mut out, &o, acc.as_deref(), &msg, &qs),
                    None => rmsg(&mut out, acc.as_deref(), &msg, &qs, true),
                }
            }
            _ => return None,
        }
        Some(out)
    }

    /// Parses `input` whole, one byte at a time and in pieces derived from
    /// `seed`, with the settings `seed` selects, and panics if the results
    /// differ or an op does not survive its encoder.
    pub fn check(input: &[u8], seed: u8) {
        splits_agree(
            input,
            seed,
            || parser(seed),
            |p, buf| {
                let r = p.next(buf);
                if let Ok(Some((op, _))) = &r {
                    round_trip(op, seed);
                }
                printed(r)
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parser(pinned: bool) -> Parser {
        let mut p = Parser::new(Limits::default());
        p.pinned_account = pinned;
        p
    }

    /// Parses `input` in one piece; every op must be complete.
    fn parse_all(p: &mut Parser, input: &[u8]) -> Result<Vec<String>, ParseError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((op, n)) = p.next(&input[pos..])? {
            out.push(format!("{op:?}"));
            pos += n;
        }
        assert_eq!(pos, input.len(), "unparsed tail {:?}", &input[pos..]);
        Ok(out)
    }

    /// The single op of a complete frame.
    fn one<'a>(p: &mut Parser, input: &'a [u8]) -> RouteOp<'a> {
        match p.next(input) {
            Ok(Some((op, n))) => {
                assert_eq!(n, input.len(), "{input:?}");
                op
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }

    fn err(p: &mut Parser, input: &[u8]) -> ParseError {
        let mut pos = 0;
        loop {
            match p.next(&input[pos..]) {
                Ok(Some((_, n))) => pos += n,
                Ok(None) => panic!("{input:?}: no error"),
                Err(e) => return e,
            }
        }
    }

    fn sub<'a>(
        origin: Option<&'a str>,
        account: Option<&'a str>,
        subject: &'a str,
        queue: Option<(&'a str, u32)>,
    ) -> RouteOp<'a> {
        RouteOp::Sub {
            origin: origin.map(str::as_bytes),
            account: account.map(str::as_bytes),
            subject: subject.as_bytes(),
            queue: queue.map(|(q, w)| (q.as_bytes(), w)),
        }
    }

    fn unsub<'a>(
        leaf: bool,
        origin: Option<&'a str>,
        account: Option<&'a str>,
        subject: &'a str,
        queue: Option<&'a str>,
    ) -> RouteOp<'a> {
        RouteOp::Unsub {
            leaf,
            origin: origin.map(str::as_bytes),
            account: account.map(str::as_bytes),
            subject: subject.as_bytes(),
            queue: queue.map(str::as_bytes),
        }
    }

    /// Builds the expected message op; `queues` is space separated.
    fn msg<'a>(
        origin: Option<&'a str>,
        account: Option<&'a str>,
        subject: &'a str,
        reply: Option<&'a str>,
        queues: &'a str,
        header_len: Option<usize>,
        payload: &'a str,
    ) -> RouteOp<'a> {
        RouteOp::Msg {
            origin: origin.map(str::as_bytes),
            account: account.map(str::as_bytes),
            subject: subject.as_bytes(),
            reply: reply.map(str::as_bytes),
            queues: Queues {
                raw: queues.as_bytes(),
            },
            header_len,
            payload: payload.as_bytes(),
        }
    }

    #[test]
    fn observed_interest_forms() {
        let mut p = parser(false);
        assert_eq!(
            one(&mut p, b"RS+ ACC1 foo.> q1 1\r\n"),
            sub(None, Some("ACC1"), "foo.>", Some(("q1", 1)))
        );
        assert_eq!(
            one(&mut p, b"RS+ ACC1 bar\r\n"),
            sub(None, Some("ACC1"), "bar", None)
        );
        assert_eq!(
            one(&mut p, b"RS+ $SYS $SYS.SERVER.*.STATSZ\r\n"),
            sub(None, Some("$SYS"), "$SYS.SERVER.*.STATSZ", None)
        );
        assert_eq!(
            one(&mut p, b"RS- ACC1 foo.> q1\r\n"),
            unsub(false, None, Some("ACC1"), "foo.>", Some("q1"))
        );
        assert_eq!(
            one(&mut p, b"RS- ACC1 bar\r\n"),
            unsub(false, None, Some("ACC1"), "bar", None)
        );
        assert_eq!(
            one(&mut p, b"LS+ LEAF ACC1 foo.> q1 3\r\n"),
            sub(Some("LEAF"), Some("ACC1"), "foo.>", Some(("q1", 3)))
        );
        assert_eq!(
            one(&mut p, b"LS+ LEAF ACC1 $LDS.DKFstp9ZYAqsxYz6iR0xfB\r\n"),
            sub(
                Some("LEAF"),
                Some("ACC1"),
                "$LDS.DKFstp9ZYAqsxYz6iR0xfB",
                None
            )
        );
        // LS- without lnocu: no origin, but still leaf interest.
        assert_eq!(
            one(&mut p, b"LS- ACC1 foo.> q1\r\n"),
            unsub(true, None, Some("ACC1"), "foo.>", Some("q1"))
        );
        p.leaf_unsub_origin = true;
        assert_eq!(
            one(&mut p, b"LS- LEAF ACC1 foo.> q1\r\n"),
            unsub(true, Some("LEAF"), Some("ACC1"), "foo.>", Some("q1"))
        );
        assert_eq!(
            one(&mut p, b"LS- LEAF ACC1 foo\r\n"),
            unsub(true, Some("LEAF"), Some("ACC1"), "foo", None)
        );
    }

    #[test]
    fn observed_message_forms() {
        let mut p = parser(false);
        assert_eq!(
            one(
                &mut p,
                b"HMSG ACC1 foo.x + rep.1 q1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
            ),
            msg(
                None,
                Some("ACC1"),
                "foo.x",
                Some("rep.1"),
                "q1",
                Some(18),
                "NATS/1.0\r\nA: b\r\n\r\nhello"
            )
        );
        assert_eq!(
            one(&mut p, b"RMSG ACC1 qq | grp 2\r\nhi\r\n"),
            msg(None, Some("ACC1"), "qq", None, "grp", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"RMSG ACC1 bar reply.x 5\r\nhello\r\n"),
            msg(
                None,
                Some("ACC1"),
                "bar",
                Some("reply.x"),
                "",
                None,
                "hello"
            )
        );
        assert_eq!(
            one(&mut p, b"HMSG ACC1 bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            msg(
                None,
                Some("ACC1"),
                "bar",
                None,
                "",
                Some(12),
                "NATS/1.0\r\n\r\nhi"
            )
        );
        assert_eq!(
            one(&mut p, b"RMSG ACC1 foo + r q1 q2 q3 0\r\n\r\n"),
            msg(None, Some("ACC1"), "foo", Some("r"), "q1 q2 q3", None, "")
        );
        // nats-server's own parser tests.
        assert_eq!(
            one(&mut p, b"RMSG $G foo.bar INBOX.22 11\r\nhello world\r\n"),
            msg(
                None,
                Some("$G"),
                "foo.bar",
                Some("INBOX.22"),
                "",
                None,
                "hello world"
            )
        );
        assert_eq!(
            one(&mut p, b"HMSG $G foo.bar | baz 3 14\r\nOK:hello world\r\n"),
            msg(
                None,
                Some("$G"),
                "foo.bar",
                None,
                "baz",
                Some(3),
                "OK:hello world"
            )
        );
    }

    #[test]
    fn leaf_origin_message_forms() {
        let mut p = parser(false);
        assert_eq!(
            one(&mut p, b"LMSG LEAF ACC1 bar 0 5\r\nhello\r\n"),
            msg(Some("LEAF"), Some("ACC1"), "bar", None, "", None, "hello")
        );
        assert_eq!(
            one(&mut p, b"LMSG LEAF ACC1 bar rep 0 5\r\nhello\r\n"),
            msg(
                Some("LEAF"),
                Some("ACC1"),
                "bar",
                Some("rep"),
                "",
                None,
                "hello"
            )
        );
        assert_eq!(
            one(
                &mut p,
                b"LMSG LEAF ACC1 foo.x + rep.1 q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
            ),
            msg(
                Some("LEAF"),
                Some("ACC1"),
                "foo.x",
                Some("rep.1"),
                "q1 q2",
                Some(12),
                "NATS/1.0\r\n\r\nhi"
            )
        );
        assert_eq!(
            one(&mut p, b"LMSG LEAF ACC1 foo.x | q1 0 2\r\nhi\r\n"),
            msg(Some("LEAF"), Some("ACC1"), "foo.x", None, "q1", None, "hi")
        );
    }

    #[test]
    fn pinned_account_forms() {
        let mut p = parser(true);
        assert_eq!(
            one(&mut p, b"RMSG $SYS.SERVER.NABC.STATSZ 2\r\n{}\r\n"),
            msg(None, None, "$SYS.SERVER.NABC.STATSZ", None, "", None, "{}")
        );
        assert_eq!(
            one(&mut p, b"RMSG foo reply 2\r\nhi\r\n"),
            msg(None, None, "foo", Some("reply"), "", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"RMSG foo + reply q1 2\r\nhi\r\n"),
            msg(None, None, "foo", Some("reply"), "q1", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"HMSG foo | q1 q2 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
            msg(
                None,
                None,
                "foo",
                None,
                "q1 q2",
                Some(12),
                "NATS/1.0\r\n\r\n"
            )
        );
        assert_eq!(
            one(&mut p, b"LMSG LEAF foo + r q 0 2\r\nhi\r\n"),
            msg(Some("LEAF"), None, "foo", Some("r"), "q", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"RS+ $SYS.REQ.SERVER.PING\r\n"),
            sub(None, None, "$SYS.REQ.SERVER.PING", None)
        );
        assert_eq!(
            one(&mut p, b"RS+ foo q 2\r\n"),
            sub(None, None, "foo", Some(("q", 2)))
        );
        assert_eq!(
            one(&mut p, b"RS- foo q\r\n"),
            unsub(false, None, None, "foo", Some("q"))
        );
        assert_eq!(
            one(&mut p, b"LS+ LEAF foo\r\n"),
            sub(Some("LEAF"), None, "foo", None)
        );
        p.leaf_unsub_origin = true;
        assert_eq!(
            one(&mut p, b"LS- LEAF foo q\r\n"),
            unsub(true, Some("LEAF"), None, "foo", Some("q"))
        );
        // An account token on a pinned connection reads as the subject, as
        // in nats-server (the fields shift).
        assert_eq!(
            one(&mut p, b"RMSG ACC foo 2\r\nhi\r\n"),
            msg(None, None, "ACC", Some("foo"), "", None, "hi")
        );
    }

    #[test]
    fn control_ops() {
        let mut p = parser(false);
        let info = b"INFO {\"server_id\":\"N1\",\"proto\":3} \r\n";
        assert_eq!(
            one(&mut p, info),
            RouteOp::Info(b"{\"server_id\":\"N1\",\"proto\":3} ")
        );
        assert_eq!(one(&mut p, b"INFO {}\r\n"), RouteOp::Info(b"{}"));
        assert_eq!(
            one(&mut p, b"CONNECT {\"echo\":true}\r\n"),
            RouteOp::Connect(b"{\"echo\":true}")
        );
        assert_eq!(one(&mut p, b"PING\r\n"), RouteOp::Ping);
        assert_eq!(one(&mut p, b"PONG\r\n"), RouteOp::Pong);
        assert_eq!(one(&mut p, b"+OK\r\n"), RouteOp::Ok);
        assert_eq!(one(&mut p, b"ping junk\n"), RouteOp::Ping);
        assert_eq!(one(&mut p, b"PONGs\r\n"), RouteOp::Pong);
        assert_eq!(
            one(&mut p, b"-ERR 'Authorization Violation'\r\n"),
            RouteOp::Err(b"'Authorization Violation'")
        );
    }

    #[test]
    fn case_tabs_and_bare_newlines() {
        let mut p = parser(false);
        assert_eq!(
            one(&mut p, b"rs+\tACC1  foo\t\tq 1\n"),
            sub(None, Some("ACC1"), "foo", Some(("q", 1)))
        );
        assert_eq!(
            one(&mut p, b"Ls-  ACC1 foo\n"),
            unsub(true, None, Some("ACC1"), "foo", None)
        );
        assert_eq!(
            one(&mut p, b"rmsg ACC1 foo\t|\tq1  q2\t2\nhi\r\n"),
            msg(None, Some("ACC1"), "foo", None, "q1 q2", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"hMsG ACC1 foo 0 2\r\nhi\r\n"),
            msg(None, Some("ACC1"), "foo", None, "", None, "hi")
        );
        assert_eq!(
            one(&mut p, b"lmsg O ACC1 foo 0 2\nhi\r\n"),
            msg(Some("O"), Some("ACC1"), "foo", None, "", None, "hi")
        );
        assert_eq!(one(&mut p, b"info {}\n"), RouteOp::Info(b"{}"));
    }

    #[test]
    fn queue_list_iterates_without_allocating() {
        let mut p = parser(false);
        let RouteOp::Msg { queues, .. } = one(&mut p, b"RMSG A s | q1 \tq2  q.3 0\r\n\r\n") else {
            panic!("not a message");
        };
        assert_eq!(queues.len(), 3);
        assert!(!queues.is_empty());
        assert_eq!(queues.as_bytes(), b"q1 \tq2  q.3");
        let names: Vec<&[u8]> = queues.into_iter().collect();
        assert_eq!(names, [&b"q1"[..], b"q2", b"q.3"]);
        assert_eq!(format!("{queues:?}"), r#"["q1", "q2", "q.3"]"#);
        let none = Queues::default();
        assert!(none.is_empty());
        assert_eq!(none.len(), 0);
        // Equality ignores spacing.
        assert_eq!(queues, Queues { raw: b"q1 q2 q.3" });
        assert_ne!(queues, Queues { raw: b"q1 q2" });
    }

    #[test]
    fn many_queue_groups() {
        let names: Vec<String> = (0..500).map(|i| format!("group{i}")).collect();
        let line = format!("RMSG ACC s + r {} 2\r\nhi\r\n", names.join(" "));
        let mut p = parser(false);
        let RouteOp::Msg { reply, queues, .. } = one(&mut p, line.as_bytes()) else {
            panic!("not a message");
        };
        assert_eq!(reply, Some(&b"r"[..]));
        assert!(queues
            .iter()
            .map(|q| q.to_vec())
            .eq(names.iter().map(|n| n.clone().into_bytes())));
    }

    /// Every form, as one stream.
    const STREAM: &[u8] = b"INFO {\"server_id\":\"N2\"} \r\nCONNECT {\"echo\":true}\r\nPING\r\n\
PONG\r\nRS+ ACC1 foo.> q1 1\r\nRS+ ACC1 bar\r\nRS- ACC1 foo.> q1\r\nRS- ACC1 bar\r\n\
LS+ LEAF ACC1 baz q 2\r\nLS- ACC1 baz q\r\nRMSG ACC1 bar reply.x 5\r\nhello\r\n\
RMSG ACC1 qq | grp 2\r\nhi\r\nHMSG ACC1 foo.x + rep.1 q1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n\
HMSG ACC1 bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG LEAF ACC1 bar 0 5\r\nhello\r\n\
LMSG LEAF ACC1 foo + r q1 q2 12 12\r\nNATS/1.0\r\n\r\n\r\nrmsg\tA\tb\t4\n\r\n\r\n\r\n\
+OK\r\n-ERR 'Unknown Protocol Operation'\r\n";

    /// The same, on a pinned-account connection.
    const PINNED_STREAM: &[u8] =
        b"INFO {\"route_account\":\"$SYS\"}\r\nRS+ $SYS.SERVER.*.STATSZ\r\n\
RS+ foo q 3\r\nRS- foo q\r\nLS+ LEAF bar\r\nLS- bar\r\nRMSG $SYS.SERVER.N.STATSZ 2\r\n{}\r\n\
RMSG s r 1\r\nx\r\nRMSG s + r q 1\r\nx\r\nHMSG s | q1 q2 12 13\r\nNATS/1.0\r\n\r\nx\r\n\
LMSG LEAF s 0 1\r\nx\r\nPING\r\n";

    /// Feeds `input` split once at `at`, as two reads.
    fn split_feed(p: &mut Parser, input: &[u8], at: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = input[..at].to_vec();
        let mut pos = 0;
        while let Some((op, n)) = p.next(&buf[pos..]).unwrap() {
            out.push(format!("{op:?}"));
            pos += n;
        }
        buf.drain(..pos);
        buf.extend_from_slice(&input[at..]);
        pos = 0;
        while let Some((op, n)) = p.next(&buf[pos..]).unwrap() {
            out.push(format!("{op:?}"));
            pos += n;
        }
        assert_eq!(pos, buf.len());
        out
    }

    #[test]
    fn every_split_point_is_the_same() {
        for (stream, pinned, count) in [(STREAM, false, 19), (PINNED_STREAM, true, 12)] {
            let whole = parse_all(&mut parser(pinned), stream).unwrap();
            assert_eq!(whole.len(), count);
            for at in 1..stream.len() {
                let mut p = parser(pinned);
                assert_eq!(split_feed(&mut p, stream, at), whole, "split at {at}");
            }
        }
    }

    #[test]
    fn replay_check_holds_on_the_streams() {
        for seed in 0..8 {
            replay::check(STREAM, seed);
            replay::check(PINNED_STREAM, seed);
        }
    }

    #[test]
    fn pending_message_state() {
        let mut p = parser(false);
        let frame = b"RMSG A s 5\r\nhello\r\n";
        assert_eq!(p.next(&frame[..14]).unwrap(), None);
        assert_eq!(p.bytes_needed(), Some(frame.len()));
        assert_eq!(p.next(&frame[..frame.len() - 1]).unwrap(), None);
        let (op, n) = p.next(frame).unwrap().unwrap();
        assert_eq!(n, frame.len());
        assert_eq!(op, msg(None, Some("A"), "s", None, "", None, "hello"));
        assert_eq!(p.bytes_needed(), None);
    }

    #[test]
    fn payload_must_end_with_crlf() {
        for input in [
            &b"RMSG A s 2\r\nhello\r\n"[..],
            b"RMSG A s 5\r\nhello\n\r",
            b"HMSG A s 0 1\r\nxy",
            b"LMSG O A s 0 1\r\nx\rx",
        ] {
            assert_eq!(
                err(&mut parser(false), input),
                ParseError::UnknownOp,
                "{input:?}"
            );
        }
        // Detected as soon as the wrong byte arrives.
        let mut p = parser(false);
        assert_eq!(
            p.next(b"RMSG A s 1\r\nxx").unwrap_err(),
            ParseError::UnknownOp
        );
    }

    #[test]
    fn unknown_ops() {
        for input in [
            &b"MSG foo 1 2\r\nhi\r\n"[..],
            b"SUB foo 1\r\n",
            b"UNSUB 1\r\n",
            b"PUB foo 1\r\nx\r\n",
            b"HPUB foo 0 1\r\nx\r\n",
            b"A+ ACC\r\n",
            b"RS+\r\n",
            b"RS+foo bar\r\n",
            b"RS* A b\r\n",
            b"RMSG\r\n",
            b"LMSGX O A s 0 1\r\n",
            b"-ERR\r\n",
            b"-ERRx 'a'\r\n",
            b"PIN\r\n",
            b"INFO\r\n",
            b"CONNECT{}\r\n",
            b"\r\n",
            b" PING\r\n",
            b"XYZ",
            b"RS+XXXXXXXXX",
        ] {
            let e = err(&mut parser(false), input);
            assert_eq!(e, ParseError::UnknownOp, "{input:?}");
            assert_eq!(e.err_text(), Some("Unknown Protocol Operation"));
            assert_eq!(e.close_reason(), CloseReason::ProtocolViolation);
        }
        // A name still arriving is not judged yet.
        assert_eq!(parser(false).next(b"CONNEC").unwrap(), None);
        assert_eq!(parser(false).next(b"LS").unwrap(), None);
    }

    /// Malformed arguments, with the text nats-server logs for each.
    #[test]
    fn malformed_arguments_carry_nats_server_text() {
        use ArgsOf::*;
        use ArgsProblem::*;
        let cases: &[(bool, &[u8], ArgsOf, ArgsProblem, &str)] = &[
            (false, b"RS+ ACC\r\n", RemoteSub, Count, "processRemoteSub Parse Error: 'R ACC'"),
            (
                false,
                b"RS+ ACC foo q\r\n",
                RemoteSub,
                Count,
                "processRemoteSub Parse Error: 'R ACC foo q'",
            ),
            (
                false,
                b"LS+ O ACC foo q 1 x\r\n",
                RemoteSub,
                Count,
                "processRemoteSub Parse Error: 'L O ACC foo q 1 x'",
            ),
            (
                false,
                b"RS+ ACC foo q x\r\n",
                RemoteSub,
                QueueWeight,
                "processRemoteSub Bad Queue Weight: 'R ACC foo q x'",
            ),
            (
                false,
                b"RS+ ACC foo q -1\r\n",
                RemoteSub,
                QueueWeight,
                "processRemoteSub Bad Queue Weight: 'R ACC foo q -1'",
            ),
            (true, b"RS+ foo q\r\n", RemoteSub, Count, "processRemoteSub Parse Error: 'R foo q'"),
            (false, b"RS- ACC\r\n", RemoteUnsub, Count, "processRemoteUnsub parse error: 'ACC'"),
            (
                false,
                b"LS- ACC foo q x\r\n",
                RemoteUnsub,
                Count,
                "processRemoteUnsub parse error: 'ACC foo q x'",
            ),
            (false, b"RMSG ACC foo\r\n", RoutedMsg, Count, "processRoutedMsgArgs Parse Error: '[ACC foo]'"),
            (true, b"RMSG foo\r\n", RoutedMsg, Count, "processRoutedMsgArgs Parse Error: '[foo]'"),
            (
                false,
                b"RMSG ACC foo x\r\n",
                RoutedMsg,
                Size,
                "processRoutedMsgArgs Bad or Missing Size: '[ACC foo x]'",
            ),
            (
                false,
                b"RMSG ACC foo r 1234567890\r\n",
                RoutedMsg,
                Size,
                "processRoutedMsgArgs Bad or Missing Size: '[ACC foo r 1234567890]'",
            ),
            (
                false,
                b"RMSG ACC foo r q 1\r\n",
                RoutedMsg,
                ReplyIndicator,
                "processRoutedMsgArgs Bad or Missing Reply Indicator: 'r'",
            ),
            (
                false,
                b"RMSG ACC foo ++ r q 1\r\n",
                RoutedMsg,
                ReplyIndicator,
                "processRoutedMsgArgs Bad or Missing Reply Indicator: '++'",
            ),
            (
                false,
                b"HMSG ACC foo 1\r\n",
                RoutedHeaderMsg,
                Count,
                "processRoutedHeaderMsgArgs Parse Error: '[ACC foo 1]'",
            ),
            (
                false,
                b"HMSG ACC foo x 1\r\n",
                RoutedHeaderMsg,
                HeaderSize,
                "processRoutedHeaderMsgArgs Bad or Missing Header Size: 'ACC foo x 1'",
            ),
            (
                false,
                b"HMSG ACC  foo 1 x\r\n",
                RoutedHeaderMsg,
                Size,
                "processRoutedHeaderMsgArgs Bad or Missing Size: '[ACC foo 1 x]'",
            ),
            (
                false,
                b"HMSG $foo foo 10 8\r\n",
                RoutedHeaderMsg,
                HeaderOverTotal,
                "processRoutedHeaderMsgArgs Header Size larger then TotalSize: '$foo foo 10 8'",
            ),
            (
                false,
                b"HMSG ACC foo * q 1 2\r\n",
                RoutedHeaderMsg,
                ReplyIndicator,
                "processRoutedHeaderMsgArgs Bad or Missing Reply Indicator: '*'",
            ),
            (
                false,
                b"LMSG O ACC foo 1\r\n",
                OriginClusterMsg,
                Count,
                "processRoutedOriginClusterMsgArgs Parse Error: '[O ACC foo 1]'",
            ),
            (
                false,
                b"LMSG O ACC foo r x 1 2\r\n",
                OriginClusterMsg,
                ReplyIndicator,
                "processRoutedOriginClusterMsgArgs Bad or Missing Reply Indicator: 'r'",
            ),
            (
                false,
                b"LMSG O ACC foo + r q 3 2\r\n",
                OriginClusterMsg,
                HeaderOverTotal,
                "processRoutedOriginClusterMsgArgs Header Size larger then TotalSize: 'O ACC foo + r q 3 2'",
            ),
            (
                true,
                b"LMSG O foo\r\n",
                OriginClusterMsg,
                Count,
                "processRoutedOriginClusterMsgArgs Parse Error: '[O foo]'",
            ),
        ];
        for &(pinned, input, op, problem, text) in cases {
            let e = err(&mut parser(pinned), input);
            assert_eq!(
                e,
                ParseError::BadArgs {
                    op,
                    problem,
                    text: text.to_owned()
                },
                "{input:?}"
            );
            assert_eq!(e.to_string(), text);
            assert_eq!(e.err_text(), None);
            assert_eq!(e.close_reason(), CloseReason::ProtocolViolation);
        }
    }

    #[test]
    fn odd_but_valid_lines_read_as_nats_server_reads_them() {
        let mut p = parser(false);
        // Four fields: the third is the reply, even when it is `+` or `|`.
        assert_eq!(
            one(&mut p, b"RMSG A s | 1\r\nx\r\n"),
            msg(None, Some("A"), "s", Some("|"), "", None, "x")
        );
        // `+ reply` with no queue names after it.
        assert_eq!(
            one(&mut p, b"RMSG A s + r 1\r\nx\r\n"),
            msg(None, Some("A"), "s", Some("r"), "", None, "x")
        );
        // Weight 0 and a queue literally named `+`.
        assert_eq!(
            one(&mut p, b"RS+ A s + 0\r\n"),
            sub(None, Some("A"), "s", Some(("+", 0)))
        );
        // A stray CR inside a line separates fields, as in nats-server.
        assert_eq!(
            one(&mut p, b"RS+ A s\rq 1\r\n"),
            sub(None, Some("A"), "s", Some(("q", 1)))
        );
        // A header size of 0 is no headers.
        assert_eq!(
            one(&mut p, b"HMSG A s 0 1\r\nx\r\n"),
            msg(None, Some("A"), "s", None, "", None, "x")
        );
    }

    #[test]
    fn route_limits_are_sixteen_times_the_client_ones() {
        assert_eq!(Limits::default().max_control_line, 65536);
        assert_eq!(Limits::for_route(100, 7).max_control_line, 1600);
        assert_eq!(
            Limits::for_route(usize::MAX, 7).max_control_line,
            usize::MAX
        );
    }

    #[test]
    fn max_control_line_complete_and_partial() {
        let limits = Limits::for_route(1, 1024);
        let mut p = Parser::new(limits);
        // 16 bytes of arguments pass, 17 do not.
        assert!(p.next(b"RS+ ACC 012345678901\r\n").unwrap().is_some());
        assert_eq!(
            Parser::new(limits)
                .next(b"RS+ ACC 0123456789012\r\n")
                .unwrap_err(),
            ParseError::MaxControlLine
        );
        // An incomplete line is refused as soon as it is too long...
        assert_eq!(
            Parser::new(limits)
                .next(b"RMSG ACC 0123456789012")
                .unwrap_err(),
            ParseError::MaxControlLine
        );
        // ...but not before, and a CR that may end the line is not counted.
        assert_eq!(
            Parser::new(limits).next(b"RMSG ACC 01234567890\r").unwrap(),
            None
        );
        // PING junk is bounded too.
        assert_eq!(
            Parser::new(limits)
                .next(b"PING 0123456789abcdefgh")
                .unwrap_err(),
            ParseError::MaxControlLine
        );
        let e = ParseError::MaxControlLine;
        assert_eq!(e.err_text(), Some("maximum control line exceeded"));
        assert_eq!(e.close_reason().as_str(), "Maximum Control Line Exceeded");
    }

    #[test]
    fn max_payload_checked_on_the_line() {
        let limits = Limits::for_route(4096, 10);
        for line in [
            &b"RMSG A s 11\r\n"[..],
            b"HMSG A s 5 11\r\n",
            b"LMSG O A s 0 11\r\n",
            b"RMSG A s | q 11\r\n",
        ] {
            assert_eq!(
                Parser::new(limits).next(line).unwrap_err(),
                ParseError::MaxPayload,
                "{line:?}"
            );
        }
        let mut p = Parser::new(limits);
        assert_eq!(p.next(b"RMSG A s 10\r\n").unwrap(), None);
        assert_eq!(p.bytes_needed(), Some(13 + 10 + 2));
        let e = ParseError::MaxPayload;
        assert_eq!(e.err_text(), Some("Maximum Payload Violation"));
        assert_eq!(
            e.close_reason().as_str(),
            "Maximum Message Payload Exceeded"
        );
    }

    #[test]
    fn unknown_op_wins_over_long_line_when_partial() {
        let limits = Limits::for_route(1, 1024);
        for partial in [
            &b"RX aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..],
            b"RMSGXXXXaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(
                Parser::new(limits).next(partial).unwrap_err(),
                ParseError::UnknownOp
            );
            let mut whole = partial.to_vec();
            whole.extend_from_slice(b"\r\n");
            assert_eq!(
                Parser::new(limits).next(&whole).unwrap_err(),
                ParseError::UnknownOp
            );
        }
    }

    fn encoded(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut out = BytesMut::new();
        f(&mut out);
        out.to_vec()
    }

    #[test]
    fn interest_encoders() {
        let e = encoded(|o| rs_plus(o, Some("ACC1"), "foo.>", Some(("q1", 1))));
        assert_eq!(e, b"RS+ ACC1 foo.> q1 1\r\n");
        let e = encoded(|o| rs_plus(o, Some("ACC1"), "bar", None));
        assert_eq!(e, b"RS+ ACC1 bar\r\n");
        let e = encoded(|o| rs_plus(o, None, "$SYS.REQ.SERVER.PING", None));
        assert_eq!(e, b"RS+ $SYS.REQ.SERVER.PING\r\n");
        let e = encoded(|o| rs_plus(o, None, "foo", Some(("q", 1234567))));
        assert_eq!(e, b"RS+ foo q 1234567\r\n");
        let e = encoded(|o| rs_minus(o, Some("ACC1"), "foo.>", Some("q1")));
        assert_eq!(e, b"RS- ACC1 foo.> q1\r\n");
        let e = encoded(|o| rs_minus(o, None, "foo", None));
        assert_eq!(e, b"RS- foo\r\n");
        let e = encoded(|o| ls_plus(o, "LEAF", Some("ACC1"), "foo", Some(("q", 2))));
        assert_eq!(e, b"LS+ LEAF ACC1 foo q 2\r\n");
        let e = encoded(|o| ls_plus(o, "LEAF", None, "foo", None));
        assert_eq!(e, b"LS+ LEAF foo\r\n");
        let e = encoded(|o| ls_minus(o, Some("LEAF"), Some("ACC1"), "foo", Some("q")));
        assert_eq!(e, b"LS- LEAF ACC1 foo q\r\n");
        let e = encoded(|o| ls_minus(o, None, Some("ACC1"), "foo", None));
        assert_eq!(e, b"LS- ACC1 foo\r\n");
    }

    fn message<'a>(
        subject: &'a str,
        reply: Option<&'a str>,
        header_len: Option<usize>,
        payload: &'a str,
    ) -> Message<'a> {
        Message {
            subject: subject.as_bytes(),
            reply: reply.map(str::as_bytes),
            header_len,
            payload: payload.as_bytes(),
        }
    }

    #[test]
    fn message_encoders() {
        let plain = message("bar", None, None, "hello");
        let with_reply = message("bar", Some("reply.x"), None, "hello");
        let hdrs = message("foo.x", Some("rep.1"), Some(12), "NATS/1.0\r\n\r\nhi");
        let q: &[&[u8]] = &[b"q1", b"q2"];
        let cases: Vec<(Vec<u8>, &[u8])> = vec![
            (
                encoded(|o| rmsg(o, Some("ACC1"), &plain, &[], true)),
                b"RMSG ACC1 bar 5\r\nhello\r\n",
            ),
            (
                encoded(|o| rmsg(o, Some("ACC1"), &with_reply, &[], true)),
                b"RMSG ACC1 bar reply.x 5\r\nhello\r\n",
            ),
            (
                encoded(|o| rmsg(o, Some("ACC1"), &with_reply, q, true)),
                b"RMSG ACC1 bar + reply.x q1 q2 5\r\nhello\r\n",
            ),
            (
                encoded(|o| rmsg(o, Some("ACC1"), &plain, &[b"grp"], true)),
                b"RMSG ACC1 bar | grp 5\r\nhello\r\n",
            ),
            (
                encoded(|o| rmsg(o, None, &plain, &[], true)),
                b"RMSG bar 5\r\nhello\r\n",
            ),
            (
                encoded(|o| rmsg(o, Some("ACC1"), &hdrs, &[b"q1"], true)),
                b"HMSG ACC1 foo.x + rep.1 q1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ),
            (
                encoded(|o| rmsg(o, None, &hdrs, &[], true)),
                b"HMSG foo.x rep.1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ),
            // A peer without headers gets the body only.
            (
                encoded(|o| rmsg(o, Some("A"), &hdrs, &[], false)),
                b"RMSG A foo.x rep.1 2\r\nhi\r\n",
            ),
            // An empty header block is no headers; an empty reply none.
            (
                encoded(|o| {
                    rmsg(
                        o,
                        Some("A"),
                        &message("s", Some(""), Some(0), "x"),
                        &[],
                        true,
                    )
                }),
                b"RMSG A s 1\r\nx\r\n",
            ),
            (
                encoded(|o| lmsg(o, "LEAF", Some("ACC1"), &plain, &[])),
                b"LMSG LEAF ACC1 bar 0 5\r\nhello\r\n",
            ),
            (
                encoded(|o| lmsg(o, "LEAF", Some("ACC1"), &hdrs, q)),
                b"LMSG LEAF ACC1 foo.x + rep.1 q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ),
            (
                encoded(|o| lmsg(o, "LEAF", None, &plain, &[b"g"])),
                b"LMSG LEAF bar | g 0 5\r\nhello\r\n",
            ),
            (
                encoded(|o| lmsg(o, "LEAF", Some("A"), &with_reply, &[])),
                b"LMSG LEAF A bar reply.x 0 5\r\nhello\r\n",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
        }
    }

    #[test]
    fn encoders_reserve_once() {
        let names: Vec<String> = (0..50).map(|i| format!("queue-{i}")).collect();
        let qs: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        let payload = "x".repeat(1000);
        let m = message("some.subject", Some("_INBOX.abc"), None, &payload);
        let mut out = BytesMut::new();
        rmsg(&mut out, Some("ACCOUNT"), &m, &qs, true);
        let first = out.capacity();
        let len = out.len();
        // The reservation was exact: writing it again fits in a buffer
        // reserved for exactly that length.
        let mut again = BytesMut::with_capacity(len);
        rmsg(&mut again, Some("ACCOUNT"), &m, &qs, true);
        assert_eq!(again.capacity(), len);
        assert!(first >= len);
    }

    /// A field: no separators, never empty.
    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_$.*>+|-]{1,12}"
    }

    fn queue() -> impl Strategy<Value = (String, u32)> {
        (token(), 0u32..1_000_000_000)
    }

    /// A message: headers (possibly empty) and a body of any bytes.
    fn payload() -> impl Strategy<Value = (Option<usize>, Vec<u8>)> {
        (
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            prop::collection::vec(any::<u8>(), 0..60),
        )
            .prop_map(|(h, body)| match h {
                Some(mut h) => {
                    let n = h.len();
                    h.extend_from_slice(&body);
                    (Some(n), h)
                }
                None => (None, body),
            })
    }

    /// Parses `frame` in one piece and split at `at`; both must give one op.
    fn parse_both(p: &Parser, frame: &[u8], at: usize) -> (String, String) {
        let fresh = || {
            let mut q = Parser::new(p.limits);
            q.pinned_account = p.pinned_account;
            q.leaf_unsub_origin = p.leaf_unsub_origin;
            q
        };
        let whole = parse_all(&mut fresh(), frame).unwrap();
        let split = split_feed(&mut fresh(), frame, at.clamp(1, frame.len() - 1));
        assert_eq!(whole.len(), 1);
        (whole.concat(), split.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn interest_round_trips(
            pinned in any::<bool>(),
            lnocu in any::<bool>(),
            leaf in any::<bool>(),
            plus in any::<bool>(),
            origin in token(),
            account in token(),
            subject in token(),
            q in prop::option::of(queue()),
            at in any::<usize>(),
        ) {
            let acc = (!pinned).then_some(account.as_str());
            let q_ref = q.as_ref().map(|(n, w)| (n.as_str(), *w));
            let mut out = BytesMut::new();
            let (expected_origin, expected) = match (leaf, plus) {
                (false, true) => {
                    rs_plus(&mut out, acc, &subject, q_ref);
                    (None, None)
                }
                (true, true) => {
                    ls_plus(&mut out, &origin, acc, &subject, q_ref);
                    (Some(origin.as_str()), None)
                }
                (false, false) => {
                    rs_minus(&mut out, acc, &subject, q_ref.map(|(n, _)| n));
                    (None, Some(false))
                }
                (true, false) => {
                    let o = lnocu.then_some(origin.as_str());
                    ls_minus(&mut out, o, acc, &subject, q_ref.map(|(n, _)| n));
                    (o, Some(true))
                }
            };
            let want = match expected {
                None => sub(expected_origin, acc, &subject, q_ref),
                Some(leaf) => unsub(leaf, expected_origin, acc, &subject, q_ref.map(|(n, _)| n)),
            };
            let mut p = parser(pinned);
            p.leaf_unsub_origin = lnocu;
            let (whole, split) = parse_both(&p, &out, at % out.len());
            prop_assert_eq!(&whole, &format!("{want:?}"));
            prop_assert_eq!(&split, &whole);
        }

        #[test]
        fn message_round_trips(
            pinned in any::<bool>(),
            leaf in any::<bool>(),
            origin in token(),
            account in token(),
            subject in token(),
            reply in prop::option::of(token()),
            queues in prop::collection::vec(token(), 0..5),
            (header_len, body) in payload(),
            at in any::<usize>(),
        ) {
            let acc = (!pinned).then_some(account.as_str());
            let m = Message {
                subject: subject.as_bytes(),
                reply: reply.as_deref().map(str::as_bytes),
                header_len,
                payload: &body,
            };
            let qs: Vec<&[u8]> = queues.iter().map(|q| q.as_bytes()).collect();
            let mut out = BytesMut::new();
            if leaf {
                lmsg(&mut out, &origin, acc, &m, &qs);
            } else {
                rmsg(&mut out, acc, &m, &qs, true);
            }
            let joined = queues.join(" ");
            let want = RouteOp::Msg {
                origin: leaf.then_some(origin.as_bytes()),
                account: acc.map(str::as_bytes),
                subject: subject.as_bytes(),
                reply: reply.as_deref().map(str::as_bytes),
                queues: Queues { raw: joined.as_bytes() },
                header_len: header_len.filter(|&h| h > 0),
                payload: &body,
            };
            let (whole, split) = parse_both(&parser(pinned), &out, at % out.len());
            prop_assert_eq!(&whole, &format!("{want:?}"));
            prop_assert_eq!(&split, &whole);
        }

        /// Arbitrary bytes never panic and split reads agree.
        #[test]
        fn arbitrary_input_agrees_across_splits(
            input in prop::collection::vec(
                prop_oneof![
                    Just(b'R'), Just(b'S'), Just(b'+'), Just(b' '), Just(b'\r'), Just(b'\n'),
                    Just(b'M'), Just(b'G'), Just(b'1'), Just(b'0'), Just(b'|'), Just(b'L'),
                    any::<u8>(),
                ],
                0..200,
            ),
            seed in any::<u8>(),
        ) {
            replay::check(&input, seed);
        }
    }
}
