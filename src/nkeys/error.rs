//! Errors of the nkeys module.
//!
//! Each malformed input maps to its own variant, so a caller (a tool printing
//! a message, a test asserting a rejection) can tell a typo in a key from a
//! key of the wrong kind. Messages never contain key material: a seed that
//! fails to decode is not echoed back.

use super::KeyKind;

/// Why an nkey operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not RFC 4648 base32 (upper case `A-Z2-7`, no padding), or
    /// its unused trailing bits are not zero.
    #[error("nkeys: invalid encoding (expected upper-case base32 without padding)")]
    InvalidEncoding,
    /// The text has the wrong number of characters or decodes to the wrong
    /// number of bytes (public keys are 56 characters, seeds 58).
    #[error("nkeys: invalid length: expected {expected} characters, got {actual}")]
    InvalidLength {
        /// The length the input should have had.
        expected: usize,
        /// The length it had.
        actual: usize,
    },
    /// The CRC-16 appended to the key does not match its content.
    #[error("nkeys: invalid checksum")]
    InvalidChecksum,
    /// The prefix byte names no known key type (or a seed was given where a
    /// public key was expected, or the other way round).
    #[error("nkeys: invalid prefix byte")]
    InvalidPrefix,
    /// A valid key, but of another type than the one required.
    #[error("nkeys: expected {expected} key, got {actual} key")]
    UnexpectedKind {
        /// The kind the caller required.
        expected: KeyKind,
        /// The kind the key is.
        actual: KeyKind,
    },
    /// The 32 bytes are not a usable Ed25519 public key.
    #[error("nkeys: invalid public key")]
    InvalidPublicKey,
    /// A signature did not verify (or did not have 64 bytes).
    #[error("nkeys: signature verification failed")]
    InvalidSignature,
    /// A signature was not base64url (unpadded) nor standard base64 (padded).
    #[error("nkeys: signature is not valid base64")]
    InvalidSignatureEncoding,
    /// Signing needs the seed, and this key pair only has the public key.
    #[error("nkeys: can not sign, no private key available")]
    CannotSign,
    /// The seed was asked for, and this key pair only has the public key.
    #[error("nkeys: no seed or private key available")]
    PublicKeyOnly,
    /// Curve (X25519) keys encrypt; they cannot sign or verify.
    #[error("nkeys: curve key is not valid for sign/verify")]
    CurveKeyOperation,
}

/// Result with the nkeys [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
