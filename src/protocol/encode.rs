//! Encoders for server-to-client operations. They append to a connection's
//! outbound buffer; nothing here allocates beyond growing that buffer.

use bytes::{BufMut, BytesMut};

/// `+OK\r\n`.
pub const OK: &[u8] = b"+OK\r\n";
/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";

/// Appends `-ERR '<text>'\r\n`.
pub fn err(out: &mut BytesMut, text: &str) {
    out.reserve(text.len() + 9);
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// The message being delivered, as the publisher sent it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Size of the header block at the start of `payload`, for HPUB.
    pub header_len: Option<usize>,
    /// Headers (if any) followed by the body.
    pub payload: &'a [u8],
}

/// Appends the MSG or HMSG frame delivering `msg` on subscription `sid`.
///
/// A receiver that did not negotiate headers gets a plain MSG with the header
/// block removed, as nats-server does.
pub fn msg(out: &mut BytesMut, msg: &Message<'_>, sid: &[u8], receiver_headers: bool) {
    let mut num = itoa::Buffer::new();
    let reply_len = msg.reply.map_or(0, |r| r.len() + 1);
    match msg.header_len {
        Some(hdr) if receiver_headers => {
            let mut num2 = itoa::Buffer::new();
            let h = num.format(hdr).as_bytes();
            let t = num2.format(msg.payload.len()).as_bytes();
            out.reserve(
                5 + msg.subject.len()
                    + 1
                    + sid.len()
                    + reply_len
                    + h.len()
                    + 1
                    + t.len()
                    + 2
                    + msg.payload.len()
                    + 2,
            );
            out.put_slice(b"HMSG ");
            put_head(out, msg, sid);
            out.put_slice(h);
            out.put_u8(b' ');
            out.put_slice(t);
            out.put_slice(b"\r\n");
            out.put_slice(msg.payload);
        }
        _ => {
            let body = match msg.header_len {
                Some(hdr) => &msg.payload[hdr.min(msg.payload.len())..],
                None => msg.payload,
            };
            let n = num.format(body.len()).as_bytes();
            out.reserve(
                4 + msg.subject.len() + 1 + sid.len() + reply_len + n.len() + 2 + body.len() + 2,
            );
            out.put_slice(b"MSG ");
            put_head(out, msg, sid);
            out.put_slice(n);
            out.put_slice(b"\r\n");
            out.put_slice(body);
        }
    }
    out.put_slice(b"\r\n");
}

fn put_head(out: &mut BytesMut, msg: &Message<'_>, sid: &[u8]) {
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(r) = msg.reply {
        out.put_slice(r);
        out.put_u8(b' ');
    }
}

/// The header block of a no-responders status message for a request
/// published to `subject`: `NATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n`.
pub fn no_responders_header(subject: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + subject.len());
    h.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    h.extend_from_slice(subject);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(m: Message<'_>, sid: &[u8], headers: bool) -> Vec<u8> {
        let mut out = BytesMut::new();
        msg(&mut out, &m, sid, headers);
        out.to_vec()
    }

    #[test]
    fn plain_msg() {
        let m = Message {
            subject: b"foo",
            reply: None,
            header_len: None,
            payload: b"hello",
        };
        assert_eq!(enc(m, b"7", true), b"MSG foo 7 5\r\nhello\r\n");
        let m = Message {
            reply: Some(b"r.1"),
            ..m
        };
        assert_eq!(enc(m, b"7", false), b"MSG foo 7 r.1 5\r\nhello\r\n");
    }

    #[test]
    fn hmsg_and_stripping() {
        let m = Message {
            subject: b"h",
            reply: None,
            header_len: Some(20),
            payload: b"NATS/1.0\r\nA: Bcd\r\n\r\nhi",
        };
        assert_eq!(
            enc(m, b"1", true),
            b"HMSG h 1 20 22\r\nNATS/1.0\r\nA: Bcd\r\n\r\nhi\r\n"
        );
        assert_eq!(enc(m, b"1", false), b"MSG h 1 2\r\nhi\r\n");
    }

    #[test]
    fn no_responders_size_matches_reference() {
        assert_eq!(no_responders_header(b"nobody").len(), 32 + 6);
    }

    #[test]
    fn err_text() {
        let mut out = BytesMut::new();
        err(&mut out, "Stale Connection");
        assert_eq!(&out[..], b"-ERR 'Stale Connection'\r\n");
    }
}
