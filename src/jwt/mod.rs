//! NATS JWT v2: decode, verify and encode operator, account, user and
//! activation claims (nats-io/jwt).
//!
//! - [`claims`]: the envelope, [`decode`] / `decode_*` (verify) and
//!   [`Claims::encode`] (sign).
//! - [`operator`], [`account`], [`user`]: the `nats` bodies.
//! - [`types`]: permissions, limits and other shared pieces.
//! - [`validate`]: content checks (what makes a server refuse a claim).
//!
//! Decoding checks what a token alone can prove: size (1 MiB), header
//! (`typ` JWT, `alg` `ed25519-nkey` or v1 `ed25519`), version (≤ 2), the
//! Ed25519 signature by `iss`, the roles of `iss` and `sub` for the claim
//! type, and the JSON shape. Unknown JSON fields are ignored, as nats does.
//! Whether the issuer is *trusted* (the configured operator, the account of
//! a user), expiry at a given time and revocation are separate calls
//! ([`OperatorClaims::did_sign`], [`AccountClaims::did_sign`],
//! [`Claims::check_times`], [`AccountClaims::is_revoked`]) because the
//! server makes those decisions with its own state.
//!
//! The `jsonwebtoken` crate is not used: it has no `ed25519-nkey`
//! algorithm, cannot take the verifying key from the token's own `iss`
//! (nkeys, not JWK/PEM), and v1 tokens sign a different input. The format
//! is three base64url parts and one Ed25519 call, done here directly.

pub mod account;
pub mod claims;
mod error;
#[doc(hidden)]
pub mod fuzz_check;
pub mod operator;
mod serde_util;
pub mod types;
pub mod user;
pub mod validate;

pub use account::{
    Account, AccountLimits, Export, ExternalAuthorization, Import, JetStreamLimits, MsgTrace,
    OperatorLimits, RevocationList, ServiceLatency, SigningKeys, UserScope, WeightedMapping,
    REVOKE_ALL, USER_SCOPE,
};
pub use claims::{
    decode, decode_account, decode_activation, decode_generic, decode_operator, decode_unverified,
    decode_user, now, AccountClaims, ActivationClaims, AnyClaims, ClaimBody, Claims, GenericBody,
    GenericClaims, Header, OperatorClaims, UserClaims, ALGORITHM, ALGORITHM_V1, LIB_VERSION,
    MAX_TOKEN_SIZE,
};
pub use error::{Error, Result};
pub use operator::Operator;
pub use types::{
    connection_type, ExportType, GenericFields, Info, NatsLimits, Permission, Permissions,
    RateQuota, ResponsePermission, TimeRange, UserPermissionLimits, NO_LIMIT,
};
pub use user::{Activation, User};
pub use validate::{Issue, ValidationResults};

#[cfg(test)]
mod tests;
