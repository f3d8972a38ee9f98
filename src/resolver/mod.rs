//! Account resolvers: where a server in operator mode gets account JWTs.
//!
//! One trait, [`AccountResolver`], with the four kinds nats-server has:
//! - [`MemoryResolver`] (`resolver: MEMORY`): preloaded JWTs plus updates.
//! - [`UrlResolver`] (`resolver: URL("http://…/")`): `GET <base><pubkey>`
//!   from an account server, cached in memory.
//! - [`DirResolver`] (`resolver { type: full|cache, dir: … }`): one
//!   `<pubkey>.jwt` file per account, watched for changes made by others.
//!
//! The rule every store path keeps (explicit stores, preloads, the
//! directory watcher, URL refreshes, PACK merges): **claims never roll
//! back.** A JWT whose `iat` is lower than the one in force for that account
//! is refused ([`ResolverError::Rollback`]) and not stored, because an
//! attacker who replays an old, validly signed account JWT would otherwise
//! undo revocations and tightened limits. See [`check_update`].
//!
//! Resolvers prove that a JWT is a well-formed account JWT about the right
//! account (signature by its `iss`, subject) and, when built with a
//! [`Validator`] (normally [`crate::trust::TrustConfig::validator`]), that
//! its issuer is trusted and it has no blocking validation errors. They do
//! not decide whether a server *applies* a JWT (e.g. MEMORY only accepts
//! updates for accounts in use): that is the server's call.
//!
//! The trait is object-safe (`Arc<dyn AccountResolver>`): async operations
//! return boxed futures rather than using `async fn` or the `async_trait`
//! crate.

mod dir;
mod memory;
mod url;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use dir::DirResolver;
pub use memory::MemoryResolver;
pub use url::{UrlResolver, UrlResolverOptions};

use crate::jwt::{self, AccountClaims};
use crate::nkeys::{self, KeyKind};
use crate::trust::AccountJwtError;

/// A boxed, sendable future: what the trait's async methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides whether an account JWT may be stored: decode, verify, check the
/// issuer is trusted and the claims have no blocking problems. Returns the
/// decoded claims or why not. Times are *not* checked (nats-server stores
/// expired JWTs and refuses their users later).
pub type Validator = Arc<dyn Fn(&str) -> Result<AccountClaims, AccountJwtError> + Send + Sync>;

/// nats-server's `DEFAULT_ACCOUNT_FETCH_TIMEOUT` (1.9s): URL fetches and
/// LOOKUP requests to peers.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_millis(1900);
/// nats-server's default PACK sync interval for the full resolver.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// nats-server's default number of JWTs a `cache` resolver keeps.
pub const DEFAULT_CACHE_LIMIT: u64 = 1000;

/// Why a resolver operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolverError {
    /// The resolver has no JWT for the account (HTTP 404, no file, not
    /// preloaded).
    #[error("account {0} not found")]
    NotFound(String),
    /// The update is older than the JWT in force (the rollback rule).
    #[error("jwt update refused: older than the one in force")]
    Rollback,
    /// Not an account public key.
    #[error("invalid account public key {0:?}")]
    InvalidKey(String),
    /// The JWT's subject is not the account it was stored or fetched for.
    #[error("subject does not match jwt content")]
    SubjectMismatch,
    /// The JWT does not decode, verify or validate.
    #[error("{0}")]
    Invalid(String),
    /// Fetching from the account server failed (network, status, timeout).
    #[error("{0}")]
    Fetch(String),
    /// Reading or writing the JWT directory failed.
    #[error("{0}")]
    Io(String),
    /// A full resolver reached its `limit`.
    #[error("jwt store is full")]
    Full,
    /// The operation does not exist for this resolver kind (or is disabled,
    /// e.g. delete without `allow_delete`).
    #[error("{0}")]
    Unsupported(String),
}

/// What a successful store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The JWT is now the one in force (new account or newer claims).
    Updated,
    /// The same JWT was already in force; nothing changed.
    Unchanged,
}

/// The resolver kinds of nats-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolverKind {
    Memory,
    Url,
    /// `type: full`, the nats resolver.
    Full,
    /// `type: cache`.
    Cache,
}

/// An account JWT that changed outside the server's own stores (a file
/// written into the resolver directory), delivered on the update stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpdate {
    /// Account public key.
    pub account: String,
    /// The new JWT, already checked like a store (including the rollback
    /// rule and the [`Validator`], when there is one).
    pub jwt: String,
}

/// The resolver section of a config (see [`crate::trust`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ResolverConfig {
    /// `resolver: MEMORY` (or `MEM`).
    Memory,
    /// `resolver: URL("…")`, or implied by the operator's
    /// `account_server_url` (+ `/accounts`). Always ends with `/`.
    Url { url: String },
    /// `resolver { type: full|cache, dir: … }`.
    Dir(DirResolverConfig),
}

/// `resolver { … }` with `type: full` or `type: cache`.
#[derive(Debug, Clone, PartialEq)]
pub struct DirResolverConfig {
    /// [`ResolverKind::Full`] or [`ResolverKind::Cache`].
    pub kind: ResolverKind,
    /// Where `<pubkey>.jwt` files live (created when missing).
    pub dir: PathBuf,
    /// `allow_delete` (full only): `$SYS.REQ.CLAIMS.DELETE` is served.
    pub allow_delete: bool,
    /// `hard_delete` (full only): remove files instead of renaming them to
    /// `<pubkey>.jwt.deleted`.
    pub hard_delete: bool,
    /// `interval` (full only): PACK sync period.
    pub interval: Duration,
    /// `limit`: most JWTs kept. Full: refuses new accounts past it; cache:
    /// evicts the least recently used. `None`: unlimited (full) or
    /// [`DEFAULT_CACHE_LIMIT`] (cache).
    pub limit: Option<u64>,
    /// `ttl` (cache only): how long a cached JWT is served.
    pub ttl: Option<Duration>,
    /// `timeout`: how long LOOKUPs to peers wait.
    pub timeout: Duration,
}

impl DirResolverConfig {
    /// A config with nats-server's defaults for `kind` and `dir`.
    pub fn new(kind: ResolverKind, dir: impl Into<PathBuf>) -> Self {
        DirResolverConfig {
            kind,
            dir: dir.into(),
            allow_delete: false,
            hard_delete: false,
            interval: DEFAULT_SYNC_INTERVAL,
            limit: None,
            ttl: None,
            timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }
}

/// Where account JWTs come from. Object-safe; share as
/// `Arc<dyn AccountResolver>`.
pub trait AccountResolver: Send + Sync {
    /// Which kind this is.
    fn kind(&self) -> ResolverKind;

    /// True for the directory resolvers (full, cache), which serve the
    /// `$SYS.REQ.CLAIMS.*` requests and LOOKUPs.
    fn is_dir(&self) -> bool {
        matches!(self.kind(), ResolverKind::Full | ResolverKind::Cache)
    }

    /// Start-up work that may fail the server's start: the URL resolver
    /// checks its base URL answers, as nats-server does.
    fn start(&self) -> BoxFuture<'_, Result<(), ResolverError>> {
        Box::pin(async { Ok(()) })
    }

    /// The JWT of `account`: cached/stored, or fetched (URL).
    fn fetch<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<String, ResolverError>>;

    /// Stores a JWT for `account` (a claim update), under the rollback rule.
    fn store<'a>(
        &'a self,
        account: &'a str,
        jwt: &'a str,
    ) -> BoxFuture<'a, Result<StoreOutcome, ResolverError>>;

    /// The JWT held for `account` without any I/O beyond the local store
    /// (`$SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP` answers with this).
    fn lookup(&self, account: &str) -> Option<String>;

    /// Account public keys held, sorted (`$SYS.REQ.CLAIMS.LIST`).
    fn list(&self) -> Vec<String>;

    /// Every `(pubkey, jwt)` held, sorted by key (`$SYS.REQ.CLAIMS.PACK`
    /// replies send them as `pubkey|jwt` lines).
    fn pack(&self) -> Vec<(String, String)>;

    /// nats-server's store hash: XOR of the SHA-256 of every JWT held. A
    /// PACK request carries the asker's; equal hashes need no reply.
    fn hash(&self) -> [u8; 32] {
        store_hash(self.pack().iter().map(|(_, j)| j.as_str()))
    }

    /// Merges a PACK reply (`pubkey|jwt` lines). Older or invalid entries
    /// are skipped (the rollback rule); returns how many were stored.
    fn merge<'a>(&'a self, pack: &'a str) -> BoxFuture<'a, Result<usize, ResolverError>> {
        Box::pin(async move {
            let mut stored = 0;
            for line in pack.lines().filter(|l| !l.is_empty()) {
                let (key, token) = line
                    .split_once('|')
                    .ok_or_else(|| ResolverError::Invalid("malformed pack line".into()))?;
                match self.store(key, token).await {
                    Ok(StoreOutcome::Updated) => stored += 1,
                    Ok(StoreOutcome::Unchanged) => {}
                    Err(e) => log::debug!("pack merge skipped {key}: {e}"),
                }
            }
            Ok(stored)
        })
    }

    /// Deletes accounts (`$SYS.REQ.CLAIMS.DELETE`; full with `allow_delete`
    /// only). Returns how many were held. Refusing the system account is
    /// the caller's check.
    fn delete(&self, accounts: &[String]) -> Result<usize, ResolverError> {
        let _ = accounts;
        Err(ResolverError::Unsupported(
            "delete must be enabled in server config".into(),
        ))
    }

    /// The stream of JWTs changed outside the server's control (the
    /// directory watcher). `Some` once, for the first caller; `None` for
    /// resolvers without such changes (MEMORY, URL: their updates arrive as
    /// `$SYS` claim-update requests the server handles itself).
    fn subscribe_updates(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<AccountUpdate>> {
        None
    }
}

/// XOR of SHA-256 of each JWT (order-independent, as nats-server's).
pub fn store_hash<'a>(jwts: impl Iterator<Item = &'a str>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut out = [0u8; 32];
    for j in jwts {
        let h = Sha256::digest(j.as_bytes());
        for (o, b) in out.iter_mut().zip(h.iter()) {
            *o ^= b;
        }
    }
    out
}

/// A JWT in force and its `iat`, as resolvers keep them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub jwt: String,
    pub iat: i64,
    /// `exp` of the JWT (0: never).
    pub exp: i64,
}

impl Held {
    pub(crate) fn new(jwt: &str, iat: i64, exp: i64) -> Self {
        Held {
            jwt: jwt.to_string(),
            iat,
            exp,
        }
    }
}

/// What [`check_update`] decided.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Store it; its `iat` and `exp`.
    Store { iat: i64, exp: i64 },
    /// Identical to the one in force.
    Same,
}

/// The checks of every store path: `account` is an account key, the JWT
/// decodes and verifies (through `validator` when given), its subject is
/// `account`, and it does not roll back the one in force (`iat` lower).
/// Equal `iat` with a different token is accepted, as nats-server does
/// (two edits within one second).
pub(crate) fn check_update(
    account: &str,
    jwt: &str,
    current: Option<&Held>,
    validator: Option<&Validator>,
) -> Result<Decision, ResolverError> {
    if !nkeys::is_valid_public_key(account, KeyKind::Account) {
        return Err(ResolverError::InvalidKey(account.to_string()));
    }
    if let Some(cur) = current {
        if cur.jwt == jwt {
            return Ok(Decision::Same);
        }
    }
    let claims = match validator {
        Some(v) => v(jwt).map_err(|e| ResolverError::Invalid(e.to_string()))?,
        None => jwt::decode_account(jwt).map_err(|e| ResolverError::Invalid(e.to_string()))?,
    };
    if claims.sub != account {
        return Err(ResolverError::SubjectMismatch);
    }
    if let Some(cur) = current {
        if claims.iat < cur.iat {
            return Err(ResolverError::Rollback);
        }
    }
    Ok(Decision::Store {
        iat: claims.iat,
        exp: claims.exp,
    })
}

/// Builds the resolver a config asks for, stores `preload` into it and, for
/// URL, does not yet contact the server (call [`AccountResolver::start`]).
///
/// Preloads older than what a directory already holds are skipped with a
/// warning instead of failing the start (the rollback rule keeps the newer
/// one). A preload for a URL resolver is an error, as in nats-server.
pub fn build(
    cfg: &ResolverConfig,
    preload: &[(String, String)],
    validator: Option<Validator>,
) -> Result<Arc<dyn AccountResolver>, ResolverError> {
    let preload_one = |account: &str, res: Result<StoreOutcome, ResolverError>| match res {
        Ok(_) => Ok(()),
        Err(ResolverError::Rollback) => {
            log::warn!(
                "resolver_preload for {account} is older than the stored JWT; keeping the stored one"
            );
            Ok(())
        }
        // nats-server starts with an untrusted or invalid preload and
        // refuses its users at login; the JWT is never stored.
        Err(e) => {
            log::warn!("preload account error for {account:?}: {e}");
            Ok(())
        }
    };
    match cfg {
        ResolverConfig::Memory => {
            let r = MemoryResolver::new(validator);
            for (account, token) in preload {
                preload_one(account, r.store_sync(account, token))?;
            }
            Ok(Arc::new(r))
        }
        ResolverConfig::Url { url } => {
            if !preload.is_empty() {
                return Err(ResolverError::Unsupported(
                    "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR"
                        .into(),
                ));
            }
            Ok(Arc::new(UrlResolver::new(
                url,
                UrlResolverOptions::default(),
                validator,
            )?))
        }
        ResolverConfig::Dir(d) => {
            let r = DirResolver::open(d, validator)?;
            for (account, token) in preload {
                preload_one(account, r.store_sync(account, token))?;
            }
            Ok(Arc::new(r))
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Account JWTs for the resolver tests.
    use crate::jwt::AccountClaims;
    use crate::nkeys::KeyPair;

    /// An account JWT for `account` signed by `op`, issued at `iat`.
    pub fn account_jwt(op: &KeyPair, account: &str, iat: i64, name: &str) -> String {
        let mut c = AccountClaims::new(account);
        c.name = name.into();
        c.encode_at(op, iat).expect("encode")
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::account_jwt;
    use super::*;
    use crate::nkeys::KeyPair;

    #[test]
    fn check_update_rules() {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let t1 = account_jwt(&op, &acc, 1000, "a");
        let t2 = account_jwt(&op, &acc, 2000, "b");
        assert!(matches!(
            check_update(&acc, &t1, None, None),
            Ok(Decision::Store { iat: 1000, .. })
        ));
        let held = Held::new(&t2, 2000, 0);
        assert_eq!(
            check_update(&acc, &t1, Some(&held), None).unwrap_err(),
            ResolverError::Rollback
        );
        assert!(matches!(
            check_update(&acc, &t2, Some(&held), None),
            Ok(Decision::Same)
        ));
        let same_second = account_jwt(&op, &acc, 2000, "c");
        assert!(matches!(
            check_update(&acc, &same_second, Some(&held), None),
            Ok(Decision::Store { iat: 2000, .. })
        ));
        let other = KeyPair::new_account().public_key();
        assert_eq!(
            check_update(&other, &t1, None, None).unwrap_err(),
            ResolverError::SubjectMismatch
        );
        assert!(matches!(
            check_update("nope", &t1, None, None),
            Err(ResolverError::InvalidKey(_))
        ));
        assert!(matches!(
            check_update(&acc, "garbage", None, None),
            Err(ResolverError::Invalid(_))
        ));
        let refuse: Validator = Arc::new(|_| Err(AccountJwtError::UntrustedIssuer));
        assert_eq!(
            check_update(&acc, &t1, None, Some(&refuse)).unwrap_err(),
            ResolverError::Invalid("account validation failed".into())
        );
    }

    #[test]
    fn hash_is_order_independent() {
        let a = store_hash(["x", "y"].into_iter());
        let b = store_hash(["y", "x"].into_iter());
        assert_eq!(a, b);
        assert_eq!(store_hash(std::iter::empty()), [0u8; 32]);
    }
}
