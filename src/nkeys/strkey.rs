//! Text encoding of nkeys (nats-io/nkeys `strkey.go`).
//!
//! Public key: base32(`[prefix][32 key bytes][crc16 LE]`), 35 bytes, 56 chars.
//! Seed: base32(`[b1][b2][32 seed bytes][crc16 LE]`), 36 bytes, 58 chars, where
//! `b1 = SEED | kind >> 5` and `b2 = (kind & 31) << 3`, so seeds read `S` then
//! the role letter.
//!
//! Decoding checks, in this order: length in characters, base32 alphabet,
//! checksum, prefix, role. Checking the length first gives the most useful
//! error for the common mistake of a truncated copy-paste.

use data_encoding::{DecodeKind, BASE32_NOPAD};

use super::crc16;
use super::error::{Error, Result};
use super::kind::{KeyKind, PREFIX_PRIVATE, PREFIX_SEED};

/// Characters in an encoded public key.
pub const PUBLIC_KEY_LEN: usize = 56;
/// Characters in an encoded seed.
pub const SEED_LEN: usize = 58;

/// Encodes the 32 bytes of a public key of `kind`.
pub fn encode_public(kind: KeyKind, key: &[u8; 32]) -> String {
    let mut raw = [0u8; 35];
    raw[0] = kind.prefix_byte();
    raw[1..33].copy_from_slice(key);
    let crc = crc16::crc16(&raw[..33]);
    raw[33..].copy_from_slice(&crc.to_le_bytes());
    BASE32_NOPAD.encode(&raw)
}

/// Encodes a 32-byte seed of `kind`. The result is secret; callers keep it in
/// a [`super::SeedText`].
pub(crate) fn encode_seed_bytes(kind: KeyKind, seed: &[u8; 32]) -> Vec<u8> {
    let p = kind.prefix_byte();
    let mut raw = [0u8; 36];
    raw[0] = PREFIX_SEED | (p >> 5);
    raw[1] = (p & 31) << 3;
    raw[2..34].copy_from_slice(seed);
    let crc = crc16::crc16(&raw[..34]);
    raw[34..].copy_from_slice(&crc.to_le_bytes());
    let mut out = vec![0u8; BASE32_NOPAD.encode_len(raw.len())];
    BASE32_NOPAD.encode_mut(&raw, &mut out);
    wipe(&mut raw);
    out
}

/// Decodes base32 and checks the trailing CRC; returns the bytes before it.
fn decode_checked(text: &[u8], expected_len: usize) -> Result<Vec<u8>> {
    if text.len() != expected_len {
        return Err(Error::InvalidLength {
            expected: expected_len,
            actual: text.len(),
        });
    }
    let mut raw = BASE32_NOPAD.decode(text).map_err(|e| match e.kind {
        DecodeKind::Length => Error::InvalidLength {
            expected: expected_len,
            actual: text.len(),
        },
        _ => Error::InvalidEncoding,
    })?;
    let n = raw.len();
    let crc = u16::from_le_bytes([raw[n - 2], raw[n - 1]]);
    if !crc16::valid(&raw[..n - 2], crc) {
        wipe(&mut raw);
        return Err(Error::InvalidChecksum);
    }
    raw.truncate(n - 2);
    Ok(raw)
}

/// Decodes a public key of any role: returns its kind and its 32 bytes.
pub fn decode_public(text: &str) -> Result<(KeyKind, [u8; 32])> {
    let raw = decode_checked(text.as_bytes(), PUBLIC_KEY_LEN)?;
    let kind = KeyKind::from_prefix_byte(raw[0]).ok_or(Error::InvalidPrefix)?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[1..33]);
    Ok((kind, key))
}

/// Decodes a public key that must be of role `expected`.
pub fn decode_public_of(expected: KeyKind, text: &str) -> Result<[u8; 32]> {
    let (kind, key) = decode_public(text)?;
    if kind != expected {
        return Err(Error::UnexpectedKind {
            expected,
            actual: kind,
        });
    }
    Ok(key)
}

/// Decodes a seed: returns its role and the 32 secret bytes. The caller must
/// not keep the bytes longer than needed.
pub(crate) fn decode_seed(text: &[u8]) -> Result<(KeyKind, [u8; 32])> {
    let mut raw = decode_checked(text, SEED_LEN)?;
    let b1 = raw[0] & 0xF8;
    let role = ((raw[0] & 7) << 5) | ((raw[1] & 0xF8) >> 3);
    let result = if b1 != PREFIX_SEED {
        Err(Error::InvalidPrefix)
    } else if let Some(kind) = KeyKind::from_prefix_byte(role) {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[2..34]);
        Ok((kind, seed))
    } else {
        Err(Error::InvalidPrefix)
    };
    wipe(&mut raw);
    result
}

/// What a piece of key text is, without trusting it further: used by tools
/// to pick the right parser and by error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// A public key of this role.
    Public(KeyKind),
    /// A seed of this role.
    Seed(KeyKind),
    /// A raw private key (`P...`).
    Private,
}

/// Classifies encoded key text (checksum verified), or says why it is not a
/// key. Unlike [`decode_public`] it accepts public keys and seeds alike.
pub fn prefix_of(text: &str) -> Result<Prefix> {
    let len = text.len();
    let expected = if len == SEED_LEN {
        SEED_LEN
    } else {
        PUBLIC_KEY_LEN
    };
    let mut raw = decode_checked(text.as_bytes(), expected)?;
    let b0 = raw[0];
    let out = if expected == SEED_LEN {
        let role = ((b0 & 7) << 5) | ((raw[1] & 0xF8) >> 3);
        match KeyKind::from_prefix_byte(role) {
            Some(kind) if b0 & 0xF8 == PREFIX_SEED => Ok(Prefix::Seed(kind)),
            _ => Err(Error::InvalidPrefix),
        }
    } else if let Some(kind) = KeyKind::from_prefix_byte(b0) {
        Ok(Prefix::Public(kind))
    } else if b0 == PREFIX_PRIVATE {
        Ok(Prefix::Private)
    } else {
        Err(Error::InvalidPrefix)
    };
    wipe(&mut raw);
    out
}

/// Overwrites secret bytes once they are no longer needed. Best effort: the
/// crate forbids `unsafe`, so there is no volatile write, but `black_box`
/// keeps the compiler from dropping the stores as dead.
pub(crate) fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_round_trip_all_kinds() {
        let key = [7u8; 32];
        for kind in KeyKind::ALL {
            let text = encode_public(kind, &key);
            assert_eq!(text.len(), PUBLIC_KEY_LEN);
            assert!(text.starts_with(kind.public_char()), "{text}");
            assert_eq!(decode_public(&text).unwrap(), (kind, key));
            assert_eq!(decode_public_of(kind, &text).unwrap(), key);
            assert_eq!(prefix_of(&text).unwrap(), Prefix::Public(kind));
        }
    }

    #[test]
    fn seed_round_trip_all_kinds() {
        let seed = [9u8; 32];
        for kind in KeyKind::ALL {
            let text = encode_seed_bytes(kind, &seed);
            assert_eq!(text.len(), SEED_LEN);
            assert_eq!(text[0], b'S');
            assert_eq!(text[1] as char, kind.public_char());
            assert_eq!(decode_seed(&text).unwrap(), (kind, seed));
            let s = std::str::from_utf8(&text).unwrap();
            assert_eq!(prefix_of(s).unwrap(), Prefix::Seed(kind));
        }
    }

    #[test]
    fn rejects_wrong_length() {
        let text = encode_public(KeyKind::User, &[1; 32]);
        assert_eq!(
            decode_public(&text[..55]),
            Err(Error::InvalidLength {
                expected: 56,
                actual: 55
            })
        );
        assert!(matches!(
            decode_public(""),
            Err(Error::InvalidLength { .. })
        ));
        let long = format!("{text}A");
        assert!(matches!(
            decode_public(&long),
            Err(Error::InvalidLength { .. })
        ));
        // A seed where a public key is expected is a length error too.
        let seed = encode_seed_bytes(KeyKind::User, &[1; 32]);
        assert!(matches!(
            decode_public(std::str::from_utf8(&seed).unwrap()),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            decode_seed(text.as_bytes()),
            Err(Error::InvalidLength { .. })
        ));
    }

    #[test]
    fn rejects_bad_alphabet() {
        let text = encode_public(KeyKind::User, &[1; 32]);
        for bad in [
            text.to_lowercase(),
            format!("{}1", &text[..55]),
            format!("{}=", &text[..55]),
            format!("{} ", &text[..55]),
        ] {
            assert_eq!(decode_public(&bad), Err(Error::InvalidEncoding), "{bad}");
        }
    }

    #[test]
    fn rejects_non_zero_trailing_bits() {
        // 36 bytes need 288 bits; 58 characters carry 290, the last 2 must be 0.
        let mut seed = encode_seed_bytes(KeyKind::User, &[3; 32]);
        let last = seed[57];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let idx = alphabet.iter().position(|&c| c == last).unwrap();
        seed[57] = alphabet[idx ^ 1];
        assert_eq!(decode_seed(&seed), Err(Error::InvalidEncoding));
    }

    #[test]
    fn rejects_bad_checksum() {
        let text = encode_public(KeyKind::Account, &[1; 32]);
        // Change one key character: the CRC no longer matches.
        let mut b = text.into_bytes();
        b[10] = if b[10] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(b).unwrap();
        assert_eq!(decode_public(&t), Err(Error::InvalidChecksum));

        let mut s = encode_seed_bytes(KeyKind::Account, &[1; 32]);
        s[20] = if s[20] == b'A' { b'B' } else { b'A' };
        assert_eq!(decode_seed(&s), Err(Error::InvalidChecksum));
    }

    /// Builds a 35-byte public-key encoding with an arbitrary prefix byte and
    /// a correct checksum.
    fn with_prefix(prefix: u8) -> String {
        let mut raw = vec![prefix];
        raw.extend_from_slice(&[5u8; 32]);
        let crc = crc16::crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        BASE32_NOPAD.encode(&raw)
    }

    #[test]
    fn rejects_unknown_prefix() {
        for p in [25u8 << 3, 1, 8, PREFIX_PRIVATE, PREFIX_SEED] {
            assert_eq!(decode_public(&with_prefix(p)), Err(Error::InvalidPrefix));
        }
        assert_eq!(prefix_of(&with_prefix(PREFIX_PRIVATE)), Ok(Prefix::Private));
        assert_eq!(prefix_of(&with_prefix(25 << 3)), Err(Error::InvalidPrefix));
    }

    #[test]
    fn rejects_seed_with_bad_role_or_marker() {
        // Right length and checksum, but the first byte is not the seed marker.
        let mut raw = vec![0u8, 20 << 3];
        raw.extend_from_slice(&[5u8; 32]);
        let crc = crc16::crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        let text = BASE32_NOPAD.encode(&raw);
        assert_eq!(decode_seed(text.as_bytes()), Err(Error::InvalidPrefix));

        // Seed marker, but the role bits name no key type (25 << 3 = `Z`).
        let role = 25u8 << 3;
        let mut raw = vec![PREFIX_SEED | (role >> 5), (role & 31) << 3];
        raw.extend_from_slice(&[5u8; 32]);
        let crc = crc16::crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        let text = BASE32_NOPAD.encode(&raw);
        assert_eq!(decode_seed(text.as_bytes()), Err(Error::InvalidPrefix));
    }

    #[test]
    fn rejects_unexpected_kind() {
        let text = encode_public(KeyKind::Account, &[1; 32]);
        assert_eq!(
            decode_public_of(KeyKind::User, &text),
            Err(Error::UnexpectedKind {
                expected: KeyKind::User,
                actual: KeyKind::Account
            })
        );
    }
}
