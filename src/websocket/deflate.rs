//! permessage-deflate (RFC 7692) as nats-server does it, plugged into
//! soketto's extension hooks: soketto negotiates the extension, checks the
//! RSV1 bit and joins fragments; this module only turns a message's payload
//! into deflate data and back (flate2).
//!
//! As nats-server: the extension is accepted, whatever parameters the client
//! offered, with `server_no_context_takeover; client_no_context_takeover`,
//! so every message is compressed on its own; payloads of at most
//! [`COMPRESS_THRESHOLD`] bytes go out uncompressed. Unlike soketto's own
//! `Deflate`, inflating stops at the connection's message limit, so a small
//! compressed frame cannot grow past it (a decompression bomb ends the
//! connection with an error).

use flate2::write::{DeflateDecoder, DeflateEncoder};
use flate2::Compression;
use soketto::base::{Header, OpCode};
use soketto::extension::{Extension, Param};
use soketto::{BoxedError, Storage};
use std::io::Write;

/// nats-server's `wsCompressThreshold`: smaller payloads are not compressed.
pub const COMPRESS_THRESHOLD: usize = 64;

/// The empty stored block that ends a flushed deflate stream, left out on
/// the wire (RFC 7692, 7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The server side of permessage-deflate.
#[derive(Debug)]
pub struct PerMessageDeflate {
    enabled: bool,
    params: Vec<Param<'static>>,
    /// The largest inflated message.
    max: usize,
    /// A compressed message is arriving in fragments.
    fragmented: bool,
}

impl PerMessageDeflate {
    pub fn new(max: usize) -> PerMessageDeflate {
        PerMessageDeflate {
            enabled: false,
            params: vec![
                Param::new("server_no_context_takeover"),
                Param::new("client_no_context_takeover"),
            ],
            max,
            fragmented: false,
        }
    }
}

fn err(msg: &str) -> BoxedError {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned()).into()
}

/// A writer that refuses to hold more than `max` bytes.
struct Bounded {
    out: Vec<u8>,
    max: usize,
}

impl Write for Bounded {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + b.len() > self.max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "inflated websocket message exceeds the maximum size",
            ));
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Inflates `data` (without its [`TAIL`]), failing past `max` bytes.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, BoxedError> {
    let out = Bounded {
        out: Vec::with_capacity(data.len().saturating_mul(2).min(max)),
        max,
    };
    let mut d = DeflateDecoder::new(out);
    d.write_all(data)?;
    d.write_all(&TAIL)?;
    // The stream never ends (no final block): flush, not finish.
    d.flush()?;
    Ok(std::mem::take(&mut d.get_mut().out))
}

/// Deflates `data` into one sync-flushed block, without its [`TAIL`].
pub fn deflate(data: &[u8]) -> Result<Vec<u8>, BoxedError> {
    let mut e = DeflateEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::fast());
    e.write_all(data)?;
    e.flush()?;
    let mut out = std::mem::take(e.get_mut());
    if !out.ends_with(&TAIL) {
        return Err(err("deflate: no sync flush block"));
    }
    out.truncate(out.len() - TAIL.len());
    Ok(out)
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        "permessage-deflate"
    }

    fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn params(&self) -> &[Param<'_>] {
        &self.params
    }

    /// nats-server accepts any offer of the extension, with its own fixed
    /// parameters.
    fn configure(&mut self, _params: &[Param]) -> Result<(), BoxedError> {
        self.enabled = true;
        Ok(())
    }

    fn reserved_bits(&self) -> (bool, bool, bool) {
        (true, false, false)
    }

    fn decode(&mut self, header: &mut Header, data: &mut Vec<u8>) -> Result<(), BoxedError> {
        match header.opcode() {
            OpCode::Binary | OpCode::Text if header.is_rsv1() => {
                if !header.is_fin() {
                    // soketto calls again with the whole message on the last
                    // fragment.
                    self.fragmented = true;
                    return Ok(());
                }
            }
            OpCode::Continue if header.is_fin() && self.fragmented => self.fragmented = false,
            _ => return Ok(()),
        }
        *data = inflate(data, self.max)?;
        header.set_rsv1(false);
        header.set_payload_len(data.len());
        Ok(())
    }

    fn encode(&mut self, header: &mut Header, data: &mut Storage) -> Result<(), BoxedError> {
        if !matches!(header.opcode(), OpCode::Binary | OpCode::Text)
            || data.as_ref().len() <= COMPRESS_THRESHOLD
        {
            return Ok(());
        }
        *data = Storage::Owned(deflate(data.as_ref())?);
        header.set_rsv1(true);
        header.set_payload_len(data.as_ref().len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_and_inflate_round_trip() {
        for len in [0, 1, 100, 5000, 300_000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ (i / 7) as u8).collect();
            let z = deflate(&data).unwrap();
            assert!(!z.ends_with(&TAIL));
            assert_eq!(inflate(&z, 1 << 20).unwrap(), data, "{len}");
        }
    }

    #[test]
    fn inflating_stops_at_the_limit() {
        let z = deflate(&vec![0u8; 4 << 20]).unwrap();
        assert!(z.len() < 64 << 10, "{}", z.len());
        assert!(inflate(&z, 1 << 20).is_err());
        assert_eq!(inflate(&z, 4 << 20).unwrap().len(), 4 << 20);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(inflate(&[0xff; 32], 1 << 20).is_err());
    }
}
