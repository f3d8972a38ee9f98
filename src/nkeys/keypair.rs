//! [`KeyPair`]: a public key with, optionally, the seed that made it.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;

use super::error::{Error, Result};
use super::kind::KeyKind;
use super::strkey;

/// The secret half of a key pair.
#[derive(Clone)]
enum Secret {
    /// Ed25519 signing key (zeroed on drop by ed25519-dalek).
    Ed25519(SigningKey),
    /// X25519 secret scalar bytes (the raw seed; clamped when used).
    Curve(CurveSecret),
}

/// The 32 raw bytes of a curve seed, wiped on drop.
#[derive(Clone)]
struct CurveSecret([u8; 32]);

impl Drop for CurveSecret {
    fn drop(&mut self) {
        strkey::wipe(&mut self.0);
    }
}

/// An encoded seed (`S...`). It is the secret of a key pair, so it has no
/// `Display`, its `Debug` prints nothing of it, and its bytes are overwritten
/// when it is dropped; read it with [`SeedText::as_str`] only to write it
/// where it belongs (a key file, a creds file).
#[derive(Clone)]
pub struct SeedText(Vec<u8>);

impl SeedText {
    /// The seed characters.
    pub fn as_str(&self) -> &str {
        // Only ever built from base32 output, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The seed bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SeedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedText(<redacted>)")
    }
}

/// Constant-time, so comparing a seed with a guess leaks nothing through timing.
impl PartialEq for SeedText {
    fn eq(&self, other: &Self) -> bool {
        super::ct_eq(&self.0, &other.0)
    }
}

impl Eq for SeedText {}

impl Drop for SeedText {
    fn drop(&mut self) {
        strkey::wipe(&mut self.0);
    }
}

/// An nkey: the role, the public key and, unless it was built from a public
/// key alone, the secret that signs.
///
/// `Debug` shows only the role and the public key.
#[derive(Clone)]
pub struct KeyPair {
    kind: KeyKind,
    public: [u8; 32],
    secret: Option<Secret>,
}

impl KeyPair {
    /// A new random key pair of `kind`, from the operating system's CSPRNG.
    pub fn new(kind: KeyKind) -> KeyPair {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let kp = KeyPair::from_raw_seed(kind, &seed);
        strkey::wipe(&mut seed);
        kp
    }

    /// A new operator key pair.
    pub fn new_operator() -> KeyPair {
        KeyPair::new(KeyKind::Operator)
    }

    /// A new account key pair.
    pub fn new_account() -> KeyPair {
        KeyPair::new(KeyKind::Account)
    }

    /// A new user key pair.
    pub fn new_user() -> KeyPair {
        KeyPair::new(KeyKind::User)
    }

    /// A new server key pair; its public key is the INFO `server_id`.
    pub fn new_server() -> KeyPair {
        KeyPair::new(KeyKind::Server)
    }

    /// A new cluster key pair.
    pub fn new_cluster() -> KeyPair {
        KeyPair::new(KeyKind::Cluster)
    }

    /// A new curve (X25519) key pair.
    pub fn new_curve() -> KeyPair {
        KeyPair::new(KeyKind::Curve)
    }

    /// The key pair of `kind` derived from 32 raw seed bytes (Ed25519 seed as
    /// in RFC 8032, or the X25519 secret for [`KeyKind::Curve`]).
    pub fn from_raw_seed(kind: KeyKind, seed: &[u8; 32]) -> KeyPair {
        if kind == KeyKind::Curve {
            let public =
                curve25519_dalek::montgomery::MontgomeryPoint::mul_base_clamped(*seed).to_bytes();
            KeyPair {
                kind,
                public,
                secret: Some(Secret::Curve(CurveSecret(*seed))),
            }
        } else {
            let sk = SigningKey::from_bytes(seed);
            let public = sk.verifying_key().to_bytes();
            KeyPair {
                kind,
                public,
                secret: Some(Secret::Ed25519(sk)),
            }
        }
    }

    /// The key pair of an encoded seed (`SO...`, `SA...`, `SU...`, `SN...`,
    /// `SC...`, `SX...`). Surrounding whitespace is ignored.
    pub fn from_seed(seed: &str) -> Result<KeyPair> {
        let (kind, mut raw) = strkey::decode_seed(seed.trim().as_bytes())?;
        let kp = KeyPair::from_raw_seed(kind, &raw);
        strkey::wipe(&mut raw);
        Ok(kp)
    }

    /// A public-only key pair (it verifies, it cannot sign). Surrounding
    /// whitespace is ignored.
    pub fn from_public_key(public: &str) -> Result<KeyPair> {
        let (kind, key) = strkey::decode_public(public.trim())?;
        Ok(KeyPair {
            kind,
            public: key,
            secret: None,
        })
    }

    /// Like [`KeyPair::from_public_key`] but the key must be of `kind`.
    pub fn from_public_key_of(kind: KeyKind, public: &str) -> Result<KeyPair> {
        let kp = KeyPair::from_public_key(public)?;
        kp.expect_kind(kind)?;
        Ok(kp)
    }

    /// The role of this key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Fails with [`Error::UnexpectedKind`] unless this key is of `kind`.
    pub fn expect_kind(&self, kind: KeyKind) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::UnexpectedKind {
                expected: kind,
                actual: self.kind,
            })
        }
    }

    /// The encoded public key (`O...`, `A...`, `U...`, `N...`, `C...`, `X...`).
    pub fn public_key(&self) -> String {
        strkey::encode_public(self.kind, &self.public)
    }

    /// The 32 raw public key bytes.
    pub fn public_key_bytes(&self) -> &[u8; 32] {
        &self.public
    }

    /// True when this key pair holds a seed and can sign.
    pub fn has_seed(&self) -> bool {
        self.secret.is_some()
    }

    /// The encoded seed. Fails for public-only key pairs.
    pub fn seed(&self) -> Result<SeedText> {
        let mut raw = match &self.secret {
            None => return Err(Error::PublicKeyOnly),
            Some(Secret::Ed25519(sk)) => sk.to_bytes(),
            Some(Secret::Curve(c)) => c.0,
        };
        let text = strkey::encode_seed_bytes(self.kind, &raw);
        strkey::wipe(&mut raw);
        Ok(SeedText(text))
    }

    /// Ed25519 signature of `msg` (64 bytes).
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        match &self.secret {
            None => Err(Error::CannotSign),
            Some(Secret::Curve(_)) => Err(Error::CurveKeyOperation),
            Some(Secret::Ed25519(sk)) => Ok(sk.sign(msg).to_bytes()),
        }
    }

    /// Checks an Ed25519 signature of `msg` by this key.
    ///
    /// Uses strict verification (rejects non-canonical signatures and
    /// small-order public keys), so a signature verifies for exactly one
    /// encoding and a degenerate key cannot "sign" everything.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        if !self.kind.can_sign() {
            return Err(Error::CurveKeyOperation);
        }
        let sig: [u8; 64] = sig.try_into().map_err(|_| Error::InvalidSignature)?;
        let vk = VerifyingKey::from_bytes(&self.public).map_err(|_| Error::InvalidPublicKey)?;
        vk.verify_strict(msg, &Signature::from_bytes(&sig))
            .map_err(|_| Error::InvalidSignature)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("kind", &self.kind)
            .field("public_key", &self.public_key())
            .field("has_seed", &self.has_seed())
            .finish()
    }
}
