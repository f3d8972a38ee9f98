//! The JWT envelope: registered claims, encoding (sign) and decoding (verify).
//!
//! Wire format (nats-io/jwt v2): `b64url(header).b64url(claims).b64url(sig)`
//! without padding; header `{"typ":"JWT","alg":"ed25519-nkey"}`; the
//! signature is the issuer's Ed25519 signature of `header.claims` (v1
//! tokens, `alg: ed25519`, sign the claims part only).

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512_256};

use super::account::Account;
use super::error::{Error, Result};
use super::operator::Operator;
use super::serde_util::{is_zero_i64, nullable};
use super::types::{GenericFields, NatsLimits};
use super::user::{Activation, User};
use crate::nkeys::{self, KeyKind, KeyPair};

/// Tokens longer than this are refused before any parsing (nats' limit).
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;
/// The v2 signature algorithm.
pub const ALGORITHM: &str = "ed25519-nkey";
/// The v1 signature algorithm (accepted when decoding, never written).
pub const ALGORITHM_V1: &str = "ed25519";
/// The claim format version this library writes and the highest it reads.
pub const LIB_VERSION: i64 = 2;

/// The JOSE header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Token type, `JWT` (compared case-insensitively).
    #[serde(rename = "typ", default, deserialize_with = "nullable")]
    pub typ: String,
    /// Algorithm, `ed25519-nkey` (or v1 `ed25519`).
    #[serde(default, deserialize_with = "nullable")]
    pub alg: String,
}

impl Header {
    /// The header rnats writes.
    pub fn v2() -> Header {
        Header {
            typ: "JWT".to_string(),
            alg: ALGORITHM.to_string(),
        }
    }

    /// Checks `typ` and `alg` as nats' `Header.Valid` does.
    pub fn validate(&self) -> Result<()> {
        if !self.typ.eq_ignore_ascii_case("JWT") {
            return Err(Error::UnsupportedType(self.typ.clone()));
        }
        let alg = self.alg.to_ascii_lowercase();
        if alg != ALGORITHM && alg != ALGORITHM_V1 {
            return Err(Error::UnsupportedAlgorithm(self.alg.clone()));
        }
        Ok(())
    }
}

/// A claim body type: what goes in `nats` for one claim type, and the rules
/// for who may issue it and whom it may describe.
pub trait ClaimBody: Serialize + DeserializeOwned + Clone + Default + PartialEq {
    /// The `nats.type` value.
    const CLAIM_TYPE: &'static str;
    /// Key roles allowed as `iss` (empty: any).
    const ISSUERS: &'static [KeyKind];
    /// Key role `sub` must have, if any.
    const SUBJECT: Option<KeyKind>;

    /// The body a new claim starts with (nats' `New*Claims` defaults).
    fn new_body() -> Self {
        Self::default()
    }

    /// `type`/`version`/`tags`, for bodies that have them.
    fn generic_mut(&mut self) -> Option<&mut GenericFields>;

    /// `type`/`version`/`tags`, for bodies that have them.
    fn generic(&self) -> Option<&GenericFields>;

    /// Body-specific checks done at decode and encode time (structure only;
    /// trust decisions are the caller's).
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// Normalises the body before encoding (e.g. sorting, as nats does).
    fn prepare(&mut self) {}
}

/// A decoded (or to-be-encoded) JWT: the registered claims and the `nats`
/// body of type `N`.
///
/// Field order is the order nats-io/jwt writes them in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims<N> {
    /// Audience (free text).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub aud: String,
    /// Expiry, unix seconds (0: never).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub exp: i64,
    /// Token ID: base32 of a SHA-512/256 hash of the claims.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub jti: String,
    /// Issued at, unix seconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub iat: i64,
    /// Issuer public key.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub iss: String,
    /// Friendly name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Not before, unix seconds (0: always).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub nbf: i64,
    /// Subject public key: the identity described.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub sub: String,
    /// The type-specific body.
    #[serde(default)]
    pub nats: N,
}

/// Operator JWT.
pub type OperatorClaims = Claims<Operator>;
/// Account JWT.
pub type AccountClaims = Claims<Account>;
/// User JWT.
pub type UserClaims = Claims<User>;
/// Activation JWT (permission to import a private export).
pub type ActivationClaims = Claims<Activation>;
/// Any other claim type, body kept as JSON.
pub type GenericClaims = Claims<GenericBody>;

/// The body of a claim of a type this library does not model: kept as a
/// JSON object (including its `type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GenericBody(pub serde_json::Map<String, serde_json::Value>);

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<N: ClaimBody> Claims<N> {
    /// A new claim about `subject` with nats' default body for the type.
    pub fn new(subject: impl Into<String>) -> Self {
        Claims {
            aud: String::new(),
            exp: 0,
            jti: String::new(),
            iat: 0,
            iss: String::new(),
            name: String::new(),
            nbf: 0,
            sub: subject.into(),
            nats: N::new_body(),
        }
    }

    /// Signs the claim with `signer`, issued now. See [`Claims::encode_at`].
    pub fn encode(&mut self, signer: &KeyPair) -> Result<String> {
        self.encode_at(signer, now())
    }

    /// Signs the claim with `signer` and returns the token. Sets `iss` (the
    /// signer's public key), `iat`, `nats.type`, `nats.version` (2) and `jti`.
    ///
    /// `jti` is base32 (no padding) of SHA-512/256 of the claims JSON without
    /// `jti`. nats' Go library hashes only the registered claims, so two
    /// different JWTs for the same subject issued in the same second share a
    /// `jti`, and stores that compare `jti` then drop the second one. Hashing
    /// the whole claims (`nats` included) keeps IDs distinct; nobody
    /// recomputes `jti`, so this is compatible.
    ///
    /// # Errors
    /// Empty or wrongly-typed subject, a signer of a role that may not issue
    /// this claim type, a signer without seed, or a body that fails its
    /// structural checks.
    pub fn encode_at(&mut self, signer: &KeyPair, issued_at: i64) -> Result<String> {
        check_subject::<N>(&self.sub)?;
        if !N::ISSUERS.is_empty() && !N::ISSUERS.contains(&signer.kind()) {
            return Err(Error::IssuerKind {
                claim: N::CLAIM_TYPE,
                actual: signer.kind(),
            });
        }
        if !signer.has_seed() {
            return Err(Error::Signer(nkeys::Error::CannotSign));
        }
        self.nats.check()?;
        self.nats.prepare();
        if let Some(g) = self.nats.generic_mut() {
            g.claim_type = N::CLAIM_TYPE.to_string();
            g.version = LIB_VERSION;
        }
        self.iss = signer.public_key();
        self.iat = issued_at;
        self.jti = String::new();
        let unsigned = serde_json::to_vec(self).map_err(|e| Error::Serialize(e.to_string()))?;
        self.jti = BASE32_NOPAD.encode(&Sha512_256::digest(&unsigned));
        let payload = serde_json::to_vec(self).map_err(|e| Error::Serialize(e.to_string()))?;
        let header =
            serde_json::to_vec(&Header::v2()).map_err(|e| Error::Serialize(e.to_string()))?;
        let signing_input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(&header),
            BASE64URL_NOPAD.encode(&payload)
        );
        let sig = signer
            .sign(signing_input.as_bytes())
            .map_err(Error::Signer)?;
        Ok(format!("{signing_input}.{}", BASE64URL_NOPAD.encode(&sig)))
    }

    /// Checks `exp` and `nbf` against `now` (unix seconds): expired when
    /// `now > exp`, not yet valid when `nbf > now`, as nats does.
    pub fn check_times(&self, now: i64) -> Result<()> {
        if self.exp > 0 && now > self.exp {
            return Err(Error::Expired { exp: self.exp, now });
        }
        if self.nbf > 0 && self.nbf > now {
            return Err(Error::NotYetValid { nbf: self.nbf, now });
        }
        Ok(())
    }

    /// True when the issuer is the subject.
    pub fn is_self_signed(&self) -> bool {
        self.iss == self.sub
    }

    /// The claims as pretty JSON (for `describe`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn check_subject<N: ClaimBody>(sub: &str) -> Result<()> {
    if sub.is_empty() {
        return Err(Error::NoSubject);
    }
    if let Some(kind) = N::SUBJECT {
        if !nkeys::is_valid_public_key(sub, kind) {
            return Err(Error::SubjectKind {
                claim: N::CLAIM_TYPE,
                expected: kind,
            });
        }
    }
    Ok(())
}

fn check_issuer_account(v: &str) -> Result<()> {
    if v.is_empty() || nkeys::is_valid_public_key(v, KeyKind::Account) {
        Ok(())
    } else {
        Err(Error::InvalidIssuerAccount)
    }
}

impl ClaimBody for Operator {
    const CLAIM_TYPE: &'static str = "operator";
    const ISSUERS: &'static [KeyKind] = &[KeyKind::Operator];
    const SUBJECT: Option<KeyKind> = Some(KeyKind::Operator);

    fn generic_mut(&mut self) -> Option<&mut GenericFields> {
        Some(&mut self.generic)
    }
    fn generic(&self) -> Option<&GenericFields> {
        Some(&self.generic)
    }
}

impl ClaimBody for Account {
    const CLAIM_TYPE: &'static str = "account";
    /// Accounts are signed by an operator key; a self-signed account (an
    /// account key) decodes but is not trusted by servers.
    const ISSUERS: &'static [KeyKind] = &[KeyKind::Operator, KeyKind::Account];
    const SUBJECT: Option<KeyKind> = Some(KeyKind::Account);

    fn new_body() -> Self {
        Account::new_default()
    }
    fn generic_mut(&mut self) -> Option<&mut GenericFields> {
        Some(&mut self.generic)
    }
    fn generic(&self) -> Option<&GenericFields> {
        Some(&self.generic)
    }
    fn prepare(&mut self) {
        // nats sorts both lists by subject before signing.
        self.exports.sort_by(|a, b| a.subject.cmp(&b.subject));
        self.imports.sort_by(|a, b| a.subject.cmp(&b.subject));
    }
}

impl ClaimBody for User {
    const CLAIM_TYPE: &'static str = "user";
    const ISSUERS: &'static [KeyKind] = &[KeyKind::Account];
    const SUBJECT: Option<KeyKind> = Some(KeyKind::User);

    fn new_body() -> Self {
        User::new_default()
    }
    fn generic_mut(&mut self) -> Option<&mut GenericFields> {
        Some(&mut self.generic)
    }
    fn generic(&self) -> Option<&GenericFields> {
        Some(&self.generic)
    }
    fn check(&self) -> Result<()> {
        check_issuer_account(&self.issuer_account)
    }
}

impl ClaimBody for Activation {
    const CLAIM_TYPE: &'static str = "activation";
    const ISSUERS: &'static [KeyKind] = &[KeyKind::Account, KeyKind::Operator];
    /// The importing account.
    const SUBJECT: Option<KeyKind> = Some(KeyKind::Account);

    fn generic_mut(&mut self) -> Option<&mut GenericFields> {
        Some(&mut self.generic)
    }
    fn generic(&self) -> Option<&GenericFields> {
        Some(&self.generic)
    }
    fn check(&self) -> Result<()> {
        check_issuer_account(&self.issuer_account)
    }
}

impl ClaimBody for GenericBody {
    const CLAIM_TYPE: &'static str = "generic";
    const ISSUERS: &'static [KeyKind] = &[];
    const SUBJECT: Option<KeyKind> = None;

    fn generic_mut(&mut self) -> Option<&mut GenericFields> {
        None
    }
    fn generic(&self) -> Option<&GenericFields> {
        None
    }
}

/// A verified token of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyClaims {
    /// `operator`
    Operator(OperatorClaims),
    /// `account` (boxed: by far the largest claim, it would make every
    /// `AnyClaims` that size).
    Account(Box<AccountClaims>),
    /// `user`
    User(UserClaims),
    /// `activation`
    Activation(ActivationClaims),
    /// Anything else (`authorization_request`, custom types, untyped).
    Generic(GenericClaims),
}

macro_rules! any_field {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            AnyClaims::Operator($c) => $e,
            AnyClaims::Account($c) => $e,
            AnyClaims::User($c) => $e,
            AnyClaims::Activation($c) => $e,
            AnyClaims::Generic($c) => $e,
        }
    };
}

impl AnyClaims {
    /// The claim type (`operator`, `account`, `user`, `activation`, or the
    /// `type` of a generic claim, `generic` when it has none).
    pub fn claim_type(&self) -> &str {
        match self {
            AnyClaims::Operator(_) => Operator::CLAIM_TYPE,
            AnyClaims::Account(_) => Account::CLAIM_TYPE,
            AnyClaims::User(_) => User::CLAIM_TYPE,
            AnyClaims::Activation(_) => Activation::CLAIM_TYPE,
            AnyClaims::Generic(g) => g
                .nats
                .0
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or(GenericBody::CLAIM_TYPE),
        }
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        any_field!(self, c => &c.iss)
    }

    /// `sub`.
    pub fn subject(&self) -> &str {
        any_field!(self, c => &c.sub)
    }

    /// `name`.
    pub fn name(&self) -> &str {
        any_field!(self, c => &c.name)
    }

    /// `iat`.
    pub fn issued_at(&self) -> i64 {
        any_field!(self, c => c.iat)
    }

    /// `exp` and `nbf` check, see [`Claims::check_times`].
    pub fn check_times(&self, now: i64) -> Result<()> {
        any_field!(self, c => c.check_times(now))
    }

    /// The claims as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        any_field!(self, c => c.to_json_pretty())
    }
}

/// A token whose header, JSON and signature checked out, before its body is
/// read into a typed claim.
struct Verified {
    /// The claims JSON, v1 fields moved to where v2 keeps them.
    payload: serde_json::Value,
    /// `nats.type` (or v1 top-level `type`), empty if absent.
    claim_type: String,
    /// The issuer's role.
    issuer_kind: KeyKind,
}

fn split(token: &str) -> Result<[&str; 3]> {
    if token.len() > MAX_TOKEN_SIZE {
        return Err(Error::TooLarge {
            size: token.len(),
            max: MAX_TOKEN_SIZE,
        });
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [h, p, s] => Ok([h, p, s]),
        _ => Err(Error::Chunks(parts.len())),
    }
}

/// Decodes header and claims without checking the signature: for tools that
/// show a token, never for trust decisions.
pub fn decode_unverified(token: &str) -> Result<(Header, serde_json::Value)> {
    let [h, p, _] = split(token.trim())?;
    let header = parse_header(h)?;
    let payload = parse_payload(p)?;
    Ok((header, payload))
}

fn parse_header(h: &str) -> Result<Header> {
    let bytes = BASE64URL_NOPAD
        .decode(h.as_bytes())
        .map_err(|_| Error::Base64("header"))?;
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        part: "header",
        message: e.to_string(),
    })?;
    header.validate()?;
    Ok(header)
}

fn parse_payload(p: &str) -> Result<serde_json::Value> {
    let bytes = BASE64URL_NOPAD
        .decode(p.as_bytes())
        .map_err(|_| Error::Base64("claims"))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        part: "claims",
        message: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(Error::Json {
            part: "claims",
            message: "not a JSON object".to_string(),
        });
    }
    Ok(v)
}

/// Reads type and version the way nats' `identifier` does: a top-level
/// `type` means a v1 token; otherwise `nats.type` and `nats.version`.
/// v1 fields that v2 moved into `nats` are moved there.
fn identify(payload: &mut serde_json::Value) -> Result<(String, i64)> {
    let obj = payload.as_object_mut().expect("checked object");
    let top_type = match obj.get("type") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if let Some(t) = top_type {
        // v1: `type`, `tags` and `issuer_account` lived at the top level.
        let mut moved = serde_json::Map::new();
        for f in ["type", "tags", "issuer_account"] {
            if let Some(v) = obj.remove(f) {
                moved.insert(f.to_string(), v);
            }
        }
        let nats = obj
            .entry("nats")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if nats.is_null() {
            *nats = serde_json::Value::Object(Default::default());
        }
        if let Some(n) = nats.as_object_mut() {
            for (k, v) in moved {
                n.entry(k).or_insert(v);
            }
            // v1 users default to unlimited subs/data/payload (as nats' v1
            // migration presets them).
            if t == User::CLAIM_TYPE {
                for f in ["subs", "data", "payload"] {
                    n.entry(f).or_insert(serde_json::Value::from(-1));
                }
            }
            n.insert("version".to_string(), serde_json::Value::from(1));
        }
        return Ok((t, 1));
    }
    let nats = obj.get("nats").and_then(|v| v.as_object());
    let t = nats
        .and_then(|n| n.get("type"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let version = nats
        .and_then(|n| n.get("version"))
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    if version > LIB_VERSION {
        return Err(Error::NewerVersion(version));
    }
    Ok((t, version))
}

/// Checks size, shape, header, claims JSON and the signature by `iss`.
fn verify(token: &str) -> Result<Verified> {
    let token = token.trim();
    let [h, p, s] = split(token)?;
    let header = parse_header(h)?;
    let mut payload = parse_payload(p)?;
    let (claim_type, version) = identify(&mut payload)?;
    let sig = BASE64URL_NOPAD
        .decode(s.as_bytes())
        .map_err(|_| Error::Base64("signature"))?;
    let iss = payload.get("iss").and_then(|v| v.as_str()).unwrap_or("");
    let issuer = KeyPair::from_public_key(iss).map_err(Error::InvalidIssuer)?;
    // The key decoder ignores surrounding whitespace; `iss` must be the exact
    // key text, or the claims would name an issuer string that is not the
    // key that signed them (and that trust checks compare as a string).
    if issuer.public_key() != iss {
        return Err(Error::InvalidIssuer(nkeys::Error::InvalidEncoding));
    }
    // v1 signs the claims part only; v2 signs `header.claims`. Claims
    // without a `nats.version` (v1, and generic claims of any version) are
    // v2 when the header says `ed25519-nkey`.
    let v2 = version >= 2 || header.alg.eq_ignore_ascii_case(ALGORITHM);
    let signed = if !v2 {
        p
    } else {
        &token[..h.len() + 1 + p.len()]
    };
    issuer
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| Error::InvalidSignature)?;
    Ok(Verified {
        payload,
        claim_type,
        issuer_kind: issuer.kind(),
    })
}

/// Reads a verified token into claims of type `N`, checking issuer and
/// subject roles and the body's own rules.
fn finish<N: ClaimBody>(v: Verified) -> Result<Claims<N>> {
    if !N::ISSUERS.is_empty() && !N::ISSUERS.contains(&v.issuer_kind) {
        return Err(Error::IssuerKind {
            claim: N::CLAIM_TYPE,
            actual: v.issuer_kind,
        });
    }
    let claims: Claims<N> = serde_json::from_value(v.payload).map_err(|e| Error::Json {
        part: "claims",
        message: e.to_string(),
    })?;
    check_subject::<N>(&claims.sub)?;
    claims.nats.check()?;
    Ok(claims)
}

fn finish_account(v: Verified) -> Result<AccountClaims> {
    let mut c = finish::<Account>(v)?;
    // As nats: tiered JetStream limits replace the untiered ones.
    if !c.nats.limits.tiered_limits.is_empty() {
        c.nats.limits.jetstream = Default::default();
    }
    Ok(c)
}

fn expect_type(v: &Verified, expected: &'static str) -> Result<()> {
    if v.claim_type == expected {
        Ok(())
    } else {
        Err(Error::WrongClaimType {
            expected,
            actual: v.claim_type.clone(),
        })
    }
}

/// Decodes and verifies a token of any type: size, header (`typ`, `alg`),
/// claims JSON, version, the signature by `iss`, the issuer's role for the
/// claim type, the subject's role and the body's structure. Does not check
/// times (see [`Claims::check_times`]) nor whether the issuer is trusted.
pub fn decode(token: &str) -> Result<AnyClaims> {
    let v = verify(token)?;
    match v.claim_type.as_str() {
        "operator" => finish::<Operator>(v).map(AnyClaims::Operator),
        "account" => finish_account(v).map(|a| AnyClaims::Account(Box::new(a))),
        "user" => finish::<User>(v).map(AnyClaims::User),
        "activation" => finish::<Activation>(v).map(AnyClaims::Activation),
        "cluster" | "server" => Err(Error::UnsupportedClaimType(v.claim_type)),
        _ => finish::<GenericBody>(v).map(AnyClaims::Generic),
    }
}

/// Decodes and verifies an operator JWT (issuer must be an `O` key). See
/// [`decode`] for what is checked.
pub fn decode_operator(token: &str) -> Result<OperatorClaims> {
    let v = verify(token)?;
    expect_type(&v, Operator::CLAIM_TYPE)?;
    finish(v)
}

/// Decodes and verifies an account JWT (issuer `O`, or `A` when
/// self-signed; subject an `A` key). Whether the issuer is a trusted
/// operator key is the caller's check ([`OperatorClaims::did_sign`]).
pub fn decode_account(token: &str) -> Result<AccountClaims> {
    let v = verify(token)?;
    expect_type(&v, Account::CLAIM_TYPE)?;
    finish_account(v)
}

/// Decodes and verifies a user JWT (issuer an `A` key, subject a `U` key,
/// `issuer_account` empty or an `A` key). Whether the issuer belongs to the
/// account is the caller's check ([`AccountClaims::did_sign`]).
pub fn decode_user(token: &str) -> Result<UserClaims> {
    let v = verify(token)?;
    expect_type(&v, User::CLAIM_TYPE)?;
    finish(v)
}

/// Decodes and verifies an activation JWT (issuer `A` or `O`, subject the
/// importing account's `A` key).
pub fn decode_activation(token: &str) -> Result<ActivationClaims> {
    let v = verify(token)?;
    expect_type(&v, Activation::CLAIM_TYPE)?;
    finish(v)
}

/// Decodes and verifies a token of any type into a generic claim (body kept
/// as JSON). Only the signature and structure are checked.
pub fn decode_generic(token: &str) -> Result<GenericClaims> {
    let v = verify(token)?;
    finish(v)
}

impl OperatorClaims {
    /// True when this operator (its identity key unless it requires signing
    /// keys, or one of its signing keys) issued `account`.
    pub fn did_sign(&self, account: &AccountClaims) -> bool {
        let iss = account.iss.as_str();
        if iss == self.sub {
            return !self.nats.strict_signing_key_usage;
        }
        self.nats.signing_keys.iter().any(|k| k == iss)
    }
}

impl AccountClaims {
    /// True when this account issued `user`: directly (`iss` is the account
    /// key) or through one of its signing keys with `issuer_account` naming
    /// this account.
    pub fn did_sign(&self, user: &UserClaims) -> bool {
        if user.iss == self.sub {
            return user.nats.issuer_account.is_empty() || user.nats.issuer_account == self.sub;
        }
        user.nats.issuer_account == self.sub && self.nats.signing_keys.contains(&user.iss)
    }

    /// True when this account issued the activation (same rules as users).
    pub fn did_sign_activation(&self, act: &ActivationClaims) -> bool {
        if act.iss == self.sub {
            return true;
        }
        act.nats.issuer_account == self.sub && self.nats.signing_keys.contains(&act.iss)
    }

    /// The scope of the key that signed `user`, when it is a scoped signing
    /// key of this account.
    pub fn signer_scope(&self, user: &UserClaims) -> Option<&super::account::UserScope> {
        self.nats.signing_keys.scope(&user.iss)
    }

    /// True when `user` is revoked: `revocations[sub]` or `revocations["*"]`
    /// is at or after the user's `iat`.
    pub fn is_revoked(&self, user: &UserClaims) -> bool {
        if user.iat == 0 || user.sub.is_empty() {
            return true;
        }
        self.nats.revocations.is_revoked(&user.sub, user.iat)
    }
}

impl AccountClaims {
    /// The checks of a user JWT that depend only on the account and user
    /// claims (nats-server's JWT path, auth.md §5 steps 1, 5, 6, 9): the user
    /// and the account are within their times, the account issued the user,
    /// a user of a scoped signing key carries no permissions or limits, a
    /// bearer user is allowed, and the user is not revoked. Returns the scope
    /// whose template gives the user's permissions when a scoped key signed.
    ///
    /// Left to the caller: that the account is trusted (operator `did_sign`),
    /// the nonce signature, connection types, source networks, time windows
    /// and template expansion.
    pub fn check_user<'a>(
        &'a self,
        user: &UserClaims,
        now: i64,
    ) -> Result<Option<&'a super::account::UserScope>> {
        user.check_times(now)?;
        self.check_times(now)?;
        if !self.did_sign(user) {
            return Err(Error::NotIssuedByAccount);
        }
        let scope = self.signer_scope(user);
        if scope.is_some() && !user.has_empty_permissions() {
            return Err(Error::ScopedUserHasPermissions);
        }
        let bearer = user.is_bearer() || scope.is_some_and(|s| s.template.bearer_token);
        if bearer && self.nats.limits.account.disallow_bearer {
            return Err(Error::BearerNotAllowed);
        }
        if self.is_revoked(user) {
            return Err(Error::Revoked);
        }
        Ok(scope)
    }
}

impl UserClaims {
    /// The account this user belongs to: `issuer_account` when set (signed
    /// by a signing key), else `iss`.
    pub fn account_id(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.iss
        } else {
            &self.nats.issuer_account
        }
    }

    /// True for bearer tokens (no nonce signature needed).
    pub fn is_bearer(&self) -> bool {
        self.nats.permission_limits.bearer_token
    }

    /// True when the user carries no permissions or limits at all, as users
    /// issued by a scoped signing key must.
    pub fn has_empty_permissions(&self) -> bool {
        self.nats.permission_limits.is_empty()
    }

    /// Limits (`subs`, `data`, `payload`).
    pub fn limits(&self) -> NatsLimits {
        self.nats.permission_limits.limits
    }
}

impl ActivationClaims {
    /// The exporting account: `issuer_account` when set, else `iss`.
    pub fn account_id(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.iss
        } else {
            &self.nats.issuer_account
        }
    }
}
