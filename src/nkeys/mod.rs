//! NATS nkeys: Ed25519 keys (and X25519 "curve" keys) with a role, written
//! as base32 text with a CRC-16 checksum (nats-io/nkeys).
//!
//! - [`KeyPair`] creates, loads, signs and verifies; [`KeyKind`] is the role.
//! - [`strkey`] is the text encoding; [`crc16`] the checksum.
//! - [`verify_nonce_signature`] is what the server calls on CONNECT.
//! - [`write_secret_file`] writes seeds and creds with mode 0600.
//!
//! Secrets stay out of logs: [`SeedText`] and [`KeyPair`] print no seed in
//! `Debug`, errors never quote the input, and seed bytes are overwritten when
//! dropped (best effort: no `unsafe`, so no volatile writes).

pub mod crc16;
mod error;
mod keypair;
mod kind;
pub mod strkey;

use std::io::Write;
use std::path::Path;

use data_encoding::{BASE64, BASE64URL_NOPAD};

pub use error::{Error, Result};
pub use keypair::{KeyPair, SeedText};
pub use kind::{KeyKind, PrefixType};
pub use strkey::{Prefix, PUBLIC_KEY_LEN, SEED_LEN};

/// True when `key` is a well-formed public key of role `kind` (alphabet,
/// length, checksum, prefix). Like nkeys' `IsValidPublic*Key`, it does not
/// check that the 32 bytes are a point on the curve; verification does.
pub fn is_valid_public_key(key: &str, kind: KeyKind) -> bool {
    strkey::decode_public_of(kind, key).is_ok()
}

/// True when `key` is a well-formed public key of any role.
pub fn is_valid_public_key_any(key: &str) -> bool {
    strkey::decode_public(key).is_ok()
}

/// The role of a public key, or why it is not one.
pub fn public_key_kind(key: &str) -> Result<KeyKind> {
    strkey::decode_public(key).map(|(k, _)| k)
}

/// Decodes a signature sent by a client: base64url without padding (what
/// the NATS clients send) or, as nats-server falls back to, standard base64
/// with padding.
pub fn decode_signature(sig_b64: &str) -> Result<Vec<u8>> {
    let s = sig_b64.trim().as_bytes();
    BASE64URL_NOPAD
        .decode(s)
        .or_else(|_| BASE64.decode(s))
        .map_err(|_| Error::InvalidSignatureEncoding)
}

/// Checks the CONNECT `sig` of a client: an Ed25519 signature of the INFO
/// `nonce` bytes by the key `pubkey` (an nkey user `U...`, or the `sub` of a
/// user JWT). The signature may be base64url without padding or standard
/// base64 with padding, as nats-server accepts.
///
/// # Errors
/// The public key does not decode (its precise [`Error`]), it is a curve key
/// ([`Error::CurveKeyOperation`]), the signature is not base64
/// ([`Error::InvalidSignatureEncoding`]) or does not verify
/// ([`Error::InvalidSignature`]).
pub fn verify_nonce_signature(pubkey: &str, nonce: &[u8], sig_b64: &str) -> Result<()> {
    let kp = KeyPair::from_public_key(pubkey)?;
    let sig = decode_signature(sig_b64)?;
    kp.verify(nonce, &sig)
}

/// The CONNECT `sig` a client sends: base64url without padding of the
/// signature of `nonce`.
pub fn sign_nonce(kp: &KeyPair, nonce: &[u8]) -> Result<String> {
    Ok(BASE64URL_NOPAD.encode(&kp.sign(nonce)?))
}

/// Compares two byte strings in time that depends only on their lengths, for
/// secrets (seeds, passwords, tokens).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Finds the first key in `text` (a key file: a seed or public key per line,
/// possibly with comments or decoration around it), as nats' `nk` does when
/// reading `-inkey`/`-pubin` files. Seeds give a full key pair, public keys a
/// public-only one.
///
/// # Errors
/// [`Error::InvalidEncoding`] when no line holds a valid key; the precise
/// error of the single candidate line if there was only one.
pub fn parse_key_text(text: &str) -> Result<KeyPair> {
    let mut last_err = None;
    for line in text.lines() {
        let line = line.trim();
        if line.len() == SEED_LEN && line.starts_with('S') {
            match KeyPair::from_seed(line) {
                Ok(kp) => return Ok(kp),
                Err(e) => last_err = Some(e),
            }
        } else if line.len() == PUBLIC_KEY_LEN {
            match KeyPair::from_public_key(line) {
                Ok(kp) => return Ok(kp),
                Err(e) => last_err = Some(e),
            }
        }
    }
    Err(last_err.unwrap_or(Error::InvalidEncoding))
}

/// Writes secret material (a seed, a creds file) readable by the owner only
/// (mode 0600).
///
/// Without `overwrite` an existing file is an error
/// ([`std::io::ErrorKind::AlreadyExists`]): keys are never replaced silently.
/// With it, the content goes to a temporary 0600 file in the same directory
/// that then replaces `path`, so the secret is never in a file with looser
/// permissions and a crash leaves either the old or the new file.
pub fn write_secret_file(path: &Path, contents: &[u8], overwrite: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    if !overwrite {
        let mut f = opts.open(path)?;
        f.write_all(contents)?;
        return f.sync_all();
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("path has no file name"))?;
    let mut suffix = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    let tmp_name = format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        data_encoding::HEXLOWER.encode(&suffix)
    );
    let tmp = match dir {
        Some(d) => d.join(tmp_name),
        None => std::path::PathBuf::from(tmp_name),
    };
    let res = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with the official Python `nkeys` package, raw seed =
    /// sha256("rnats-user-vector"):
    /// a user seed and its public key.
    const USER_SEED: &str = "SUADO6IWBNKKC5Q26XYE24TTEPDBQUMDCDNFRGZ7NM5CRWQCRYUCBJYGA4";
    const USER_PUB: &str = "UBYMJEA4BNXGLAR6IM53GFNFKQ4SNBZZKYKLJYXY43XUSCYM57CTTRIP";

    #[test]
    fn known_vector() {
        let kp = KeyPair::from_seed(USER_SEED).unwrap();
        assert_eq!(kp.kind(), KeyKind::User);
        assert_eq!(kp.public_key(), USER_PUB);
        assert_eq!(kp.seed().unwrap().as_str(), USER_SEED);
    }

    #[test]
    fn random_round_trip_every_kind() {
        for kind in KeyKind::ALL {
            let kp = KeyPair::new(kind);
            let seed = kp.seed().unwrap();
            assert!(seed.as_str().starts_with('S'));
            assert_eq!(&seed.as_str()[1..2], &kind.public_char().to_string());
            let again = KeyPair::from_seed(seed.as_str()).unwrap();
            assert_eq!(again.public_key(), kp.public_key());
            assert_eq!(again.kind(), kind);
            let public = KeyPair::from_public_key(&kp.public_key()).unwrap();
            assert!(!public.has_seed());
            assert_eq!(public.public_key(), kp.public_key());
            assert!(is_valid_public_key(&kp.public_key(), kind));
            assert_eq!(public_key_kind(&kp.public_key()), Ok(kind));
        }
    }

    #[test]
    fn convenience_constructors() {
        assert_eq!(KeyPair::new_server().kind(), KeyKind::Server);
        assert!(KeyPair::new_server().public_key().starts_with('N'));
        assert!(KeyPair::new_operator().public_key().starts_with('O'));
        assert!(KeyPair::new_account().public_key().starts_with('A'));
        assert!(KeyPair::new_user().public_key().starts_with('U'));
        assert!(KeyPair::new_cluster().public_key().starts_with('C'));
        assert!(KeyPair::new_curve().public_key().starts_with('X'));
    }

    #[test]
    fn sign_and_verify() {
        let kp = KeyPair::new_user();
        let sig = kp.sign(b"hello").unwrap();
        kp.verify(b"hello", &sig).unwrap();
        assert_eq!(kp.verify(b"hellO", &sig), Err(Error::InvalidSignature));
        assert_eq!(
            kp.verify(b"hello", &sig[..63]),
            Err(Error::InvalidSignature)
        );
        let mut bad = sig;
        bad[0] ^= 1;
        assert_eq!(kp.verify(b"hello", &bad), Err(Error::InvalidSignature));
        // Another key does not verify it.
        let other = KeyPair::new_user();
        assert_eq!(other.verify(b"hello", &sig), Err(Error::InvalidSignature));
        // A public-only pair verifies but cannot sign nor give its seed.
        let public = KeyPair::from_public_key(&kp.public_key()).unwrap();
        public.verify(b"hello", &sig).unwrap();
        assert_eq!(public.sign(b"x"), Err(Error::CannotSign));
        assert!(matches!(public.seed(), Err(Error::PublicKeyOnly)));
    }

    #[test]
    fn curve_keys_do_not_sign() {
        let kp = KeyPair::new_curve();
        assert_eq!(kp.sign(b"x"), Err(Error::CurveKeyOperation));
        assert_eq!(kp.verify(b"x", &[0; 64]), Err(Error::CurveKeyOperation));
    }

    #[test]
    fn curve_public_key_is_x25519() {
        // RFC 7748 section 6.1: Alice's private key and public key.
        let sk: [u8; 32] = data_encoding::HEXLOWER
            .decode(b"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap()
            .try_into()
            .unwrap();
        let pk = data_encoding::HEXLOWER
            .decode(b"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
            .unwrap();
        let kp = KeyPair::from_raw_seed(KeyKind::Curve, &sk);
        assert_eq!(&kp.public_key_bytes()[..], &pk[..]);
    }

    #[test]
    fn debug_hides_seed() {
        let kp = KeyPair::from_seed(USER_SEED).unwrap();
        let dbg = format!("{kp:?}");
        assert!(dbg.contains(USER_PUB), "{dbg}");
        assert!(!dbg.contains(&USER_SEED[2..20]), "{dbg}");
        let seed = kp.seed().unwrap();
        let dbg = format!("{seed:?}");
        assert!(!dbg.contains(&USER_SEED[2..20]), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn from_seed_rejections() {
        assert!(matches!(
            KeyPair::from_seed(""),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            KeyPair::from_seed(USER_PUB),
            Err(Error::InvalidLength { .. })
        ));
        let mut s = USER_SEED.to_string();
        s.replace_range(5..6, if &s[5..6] == "A" { "B" } else { "A" });
        assert_eq!(KeyPair::from_seed(&s).unwrap_err(), Error::InvalidChecksum);
        assert_eq!(
            KeyPair::from_seed(&USER_SEED.to_lowercase()).unwrap_err(),
            Error::InvalidEncoding
        );
        // Whitespace around is fine (key files end with a newline).
        assert!(KeyPair::from_seed(&format!(" {USER_SEED}\n")).is_ok());
    }

    #[test]
    fn from_public_key_rejections() {
        assert!(matches!(
            KeyPair::from_public_key(USER_SEED),
            Err(Error::InvalidLength { .. })
        ));
        assert_eq!(
            KeyPair::from_public_key_of(KeyKind::Account, USER_PUB).unwrap_err(),
            Error::UnexpectedKind {
                expected: KeyKind::Account,
                actual: KeyKind::User
            }
        );
        assert!(!is_valid_public_key(USER_PUB, KeyKind::Account));
        assert!(is_valid_public_key(USER_PUB, KeyKind::User));
        assert!(!is_valid_public_key("", KeyKind::User));
        assert!(!is_valid_public_key_any("UABC"));
    }

    #[test]
    fn nonce_signatures() {
        let kp = KeyPair::from_seed(USER_SEED).unwrap();
        let nonce = b"qZqTbJ0jhgb_XYyo";
        let sig = kp.sign(nonce).unwrap();
        let url = BASE64URL_NOPAD.encode(&sig);
        let std_pad = BASE64.encode(&sig);
        assert_eq!(sign_nonce(&kp, nonce).unwrap(), url);
        verify_nonce_signature(USER_PUB, nonce, &url).unwrap();
        verify_nonce_signature(USER_PUB, nonce, &std_pad).unwrap();
        assert_eq!(
            verify_nonce_signature(USER_PUB, b"other", &url),
            Err(Error::InvalidSignature)
        );
        assert_eq!(
            verify_nonce_signature(USER_PUB, nonce, "!!not base64!!"),
            Err(Error::InvalidSignatureEncoding)
        );
        assert_eq!(
            verify_nonce_signature(USER_PUB, nonce, ""),
            Err(Error::InvalidSignature)
        );
        assert_eq!(
            verify_nonce_signature(USER_PUB, nonce, &BASE64URL_NOPAD.encode(&sig[..32])),
            Err(Error::InvalidSignature)
        );
        assert!(matches!(
            verify_nonce_signature("UBAD", nonce, &url),
            Err(Error::InvalidLength { .. })
        ));
        let x = KeyPair::new_curve().public_key();
        assert_eq!(
            verify_nonce_signature(&x, nonce, &url),
            Err(Error::CurveKeyOperation)
        );
    }

    #[test]
    fn verify_rejects_small_order_key() {
        // The identity point (y = 1) is a small-order key: with the lax
        // check, (R = identity, s = 0) would verify for every message.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        let text = strkey::encode_public(KeyKind::User, &ident);
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let sig = BASE64URL_NOPAD.encode(&sig);
        assert!(verify_nonce_signature(&text, b"anything", &sig).is_err());
    }

    #[test]
    fn verify_rejects_bytes_that_are_no_curve_point() {
        // About half of all 32-byte strings do not decompress to a point;
        // such a "public key" decodes as text but can verify nothing.
        let bad = (0u8..=255)
            .map(|i| [i; 32])
            .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
            .expect("some byte pattern is not a point");
        let text = strkey::encode_public(KeyKind::User, &bad);
        assert!(is_valid_public_key(&text, KeyKind::User));
        let kp = KeyPair::from_public_key(&text).unwrap();
        assert_eq!(kp.verify(b"m", &[0; 64]), Err(Error::InvalidPublicKey));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn parse_key_text_finds_key() {
        let text = format!("# my key\n\n{USER_SEED}\n");
        assert_eq!(parse_key_text(&text).unwrap().public_key(), USER_PUB);
        let text = format!("{USER_PUB}\n");
        let kp = parse_key_text(&text).unwrap();
        assert!(!kp.has_seed());
        assert_eq!(
            parse_key_text("nothing here").unwrap_err(),
            Error::InvalidEncoding
        );
        let mut bad = USER_SEED.to_string();
        bad.replace_range(5..6, if &bad[5..6] == "A" { "B" } else { "A" });
        assert_eq!(parse_key_text(&bad).unwrap_err(), Error::InvalidChecksum);
    }

    #[test]
    fn secret_files_are_0600_and_not_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.nk");
        write_secret_file(&p, b"one", false).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_secret_file(&p, b"two", false).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        // Overwrite on request keeps 0600 even if the old file was looser.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret_file(&p, b"three", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
