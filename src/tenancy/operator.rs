//! Operator mode: the server trusts only the configured operators' keys.
//! Account JWTs come from the resolver ([`crate::resolver`]: `MEMORY` with
//! `resolver_preload`, `URL(...)`, or a `full`/`cache` directory); a claim is
//! used only when a trusted operator (or one of its signing keys) signed it,
//! and every store path refuses a JWT issued before the one in force, so a
//! revocation cannot be undone by replaying an old JWT.

use std::sync::Arc;

use crate::config::{ConfigError, Options};
use crate::jwt::AccountClaims;
use crate::resolver::{AccountResolver, ResolverError, StoreOutcome};
use crate::trust::TrustConfig;

/// Why an account JWT could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// Not signed by a trusted operator, malformed, or outside its times.
    #[error("{0}")]
    Invalid(String),
    /// The resolver holds no JWT for the account.
    #[error("account {0} not found")]
    NotFound(String),
    /// The JWT is for another account than the one asked for.
    #[error("subject does not match jwt content")]
    SubjectMismatch,
    /// The resolver refused the JWT as invalid.
    #[error("account validation failed")]
    ValidationFailed,
    /// The resolver could not fetch or store it (older than the JWT in
    /// force, unreachable, I/O).
    #[error("{0}")]
    Resolver(String),
}

/// The trusted operators and the account JWT store.
pub struct OperatorMode {
    pub trust: TrustConfig,
    pub system_account: Option<String>,
    pub resolver: Arc<dyn AccountResolver>,
    /// Held while a claims update (a `$SYS` request or a file the directory
    /// watcher saw) is stored and applied, so updates apply in the order
    /// they arrived.
    pub updates: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OperatorMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorMode")
            .field("system_account", &self.system_account)
            .field("resolver", &self.resolver.kind())
            .finish()
    }
}

impl OperatorMode {
    /// Reads operator mode from the config; `None` when no operator is set.
    ///
    /// # Errors
    /// Invalid operators, resolver or preloads, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<Option<OperatorMode>, ConfigError> {
        let Some(trust) = TrustConfig::from_options(opts)? else {
            return Ok(None);
        };
        let resolver = trust
            .build_resolver()
            .map_err(|e| ConfigError::new(None, Some("resolver"), e.to_string()))?;
        Ok(Some(OperatorMode {
            system_account: trust.system_account.clone(),
            trust,
            resolver,
            updates: tokio::sync::Mutex::new(()),
        }))
    }

    /// Decodes an account JWT and checks that a trusted operator signed it
    /// and that it is within its times.
    pub fn validate(&self, jwt: &str) -> Result<AccountClaims, ClaimsError> {
        self.trust
            .validate_account_jwt(jwt, crate::jwt::now())
            .map_err(|e| ClaimsError::Invalid(e.to_string()))
    }

    /// The JWT the resolver holds locally for an account (no fetch).
    pub fn lookup(&self, pubkey: &str) -> Option<String> {
        self.resolver.lookup(pubkey)
    }

    /// The validated claims of an account held locally.
    pub fn account_claims(&self, pubkey: &str) -> Result<AccountClaims, ClaimsError> {
        let jwt = self
            .lookup(pubkey)
            .ok_or_else(|| ClaimsError::NotFound(pubkey.to_owned()))?;
        self.checked(pubkey, &jwt)
    }

    /// The validated claims of an account, fetched when not held locally
    /// (URL resolver).
    pub async fn fetch_claims(&self, pubkey: &str) -> Result<AccountClaims, ClaimsError> {
        let jwt = match self.lookup(pubkey) {
            Some(j) => j,
            None => self
                .resolver
                .fetch(pubkey)
                .await
                .map_err(|e| ClaimsError::Resolver(e.to_string()))?,
        };
        self.checked(pubkey, &jwt)
    }

    fn checked(&self, pubkey: &str, jwt: &str) -> Result<AccountClaims, ClaimsError> {
        let c = self.validate(jwt)?;
        if c.sub != pubkey {
            return Err(ClaimsError::SubjectMismatch);
        }
        Ok(c)
    }

    /// The checks a JWT pushed for storing must pass: full validation,
    /// except that a `full` resolver keeps JWTs no trusted operator signed
    /// (they are refused when used), as nats-server's does.
    pub fn storable(&self, jwt: &str) -> Result<AccountClaims, ClaimsError> {
        if self.trust.keeps_untrusted() {
            return self
                .trust
                .verify_storable(jwt)
                .map_err(|e| ClaimsError::Invalid(e.to_string()));
        }
        self.validate(jwt)
    }

    /// Stores a new JWT for `pubkey` after checking it
    /// ([`OperatorMode::storable`]); the resolver refuses one issued before
    /// the JWT in force.
    pub async fn store(&self, pubkey: &str, jwt: &str) -> Result<AccountClaims, ClaimsError> {
        let claims = self.storable(jwt)?;
        if claims.sub != pubkey {
            return Err(ClaimsError::SubjectMismatch);
        }
        match self.resolver.store(pubkey, jwt).await {
            Ok(StoreOutcome::Updated | StoreOutcome::Unchanged) => Ok(claims),
            Err(ResolverError::Invalid(_)) => Err(ClaimsError::ValidationFailed),
            Err(e) => Err(ClaimsError::Resolver(e.to_string())),
        }
    }

    /// Whether updates for accounts the server does not use yet are kept
    /// (directory resolvers) or skipped.
    pub fn stores_unknown(&self) -> bool {
        self.resolver.is_dir()
    }

    pub fn is_dir(&self) -> bool {
        self.resolver.is_dir()
    }

    /// Public keys of the accounts held (`$SYS.REQ.CLAIMS.LIST`).
    pub fn list(&self) -> Vec<String> {
        self.resolver.list()
    }
}
