//! Operator mode (decentralized JWT auth): which operators a server trusts
//! and where it resolves account JWTs, read from the config as nats-server
//! reads `operator`, `trusted`, `system_account`, `resolver`,
//! `resolver_preload` and `resolver_pinned_accounts` (server/opts.go,
//! server/jwt.go `validateTrustedOperators`).
//!
//! [`TrustConfig::from_options`] works on [`Options::raw_config`] so the
//! typed options stay free of operator details and every error still names
//! `file:line:col: key:`. [`TrustConfig::validate_account_jwt`] is the one
//! place that decides whether an account JWT may be used; resolvers get the
//! same check through [`TrustConfig::validator`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, Key, Kind, Map, Options, Value};
use crate::jwt::{self, AccountClaims, OperatorClaims};
use crate::nkeys::{self, KeyKind};
use crate::resolver::{
    self, AccountResolver, DirResolverConfig, ResolverConfig, ResolverError, ResolverKind,
    Validator,
};

/// Keys that name the trusted operator JWTs.
const OPERATOR_KEYS: &[&str] = &[
    "operator",
    "operators",
    "root",
    "roots",
    "root_operator",
    "root_operators",
];
const TRUSTED_KEYS: &[&str] = &["trusted", "trusted_keys"];
const RESOLVER_KEYS: &[&str] = &["resolver", "account_resolver", "accounts_resolver"];
const PRELOAD_KEYS: &[&str] = &["resolver_preload"];
const PINNED_KEYS: &[&str] = &["resolver_pinned_accounts"];
/// Accepted and not used (rnats has no TLS for the URL resolver yet).
const RESOLVER_TLS_KEYS: &[&str] = &["resolver_tls"];

/// Whether `key` (a top-level config key, any case) is one operator trust
/// reads: the options mapping leaves these to [`TrustConfig`], and a
/// reload must not change them.
pub fn is_trust_key(key: &str) -> bool {
    [
        OPERATOR_KEYS,
        TRUSTED_KEYS,
        RESOLVER_KEYS,
        PRELOAD_KEYS,
        PINNED_KEYS,
        RESOLVER_TLS_KEYS,
    ]
    .iter()
    .any(|keys| keys.iter().any(|k| k.eq_ignore_ascii_case(key)))
}
const SYSTEM_KEYS: &[&str] = &["system_account", "system"];

/// What an inline operator JWT starts with (base64url of `{"typ"` / `{"alg"`
/// headers all begin so), as nats-server's `jwtPrefix`.
const JWT_PREFIX: &str = "eyJ";

const RESOLVER_SYNTAX: &str = "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])";

/// Why an account JWT is not accepted under the trusted operators
/// ([`TrustConfig::verify_account_jwt`], [`TrustConfig::validate_account_jwt`]
/// and the resolver [`Validator`]). The texts are those nats-server replies
/// with where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountJwtError {
    /// The token is not an account JWT, or its signature does not verify.
    #[error("{0}")]
    Decode(jwt::Error),
    /// Issued by the identity key of an operator that requires its
    /// accounts to be issued by signing keys.
    #[error("operator requires issuer to be a signing key")]
    SigningKeyRequired,
    /// No trusted operator nor any of their signing keys issued it.
    #[error("account validation failed")]
    UntrustedIssuer,
    /// The claims have blocking validation errors (their descriptions).
    #[error("validation errors: [{}]", .errors.join(", "))]
    Validation { errors: Vec<String> },
    /// Expired, or not valid yet.
    #[error("{0}")]
    Times(jwt::Error),
}

/// Why an operator JWT could not be read ([`read_operator_jwt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorJwtError {
    /// The argument is neither a readable file nor an inline JWT.
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    /// The text holds no JWT, plain or decorated as nsc writes it.
    #[error("{0}")]
    NoJwt(crate::creds::Error),
    /// The JWT is not a valid operator JWT.
    #[error("{0}")]
    Decode(jwt::Error),
}

/// Why this server does not meet an operator's `assert_server_version`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ServerVersionError {
    /// The asserted version is not `major.minor.update`.
    #[error("operator {operator} expects version {want} got error instead: bad version")]
    Malformed { operator: String, want: String },
    /// The operator asks for a newer server than this one.
    #[error("operator {operator} expects server version {want} > server version {have}")]
    TooOld {
        operator: String,
        want: String,
        have: &'static str,
    },
}

/// Operator-mode configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustConfig {
    /// The trusted operators: their JWT (undecorated) and claims.
    pub operators: Vec<(String, OperatorClaims)>,
    /// Keys that may issue account JWTs: each operator's identity key
    /// (unless it requires signing keys) and its signing keys; or the
    /// `trusted` keys when no operator JWT is configured.
    pub trusted_keys: Vec<String>,
    /// The system account: from the config, else from the (single)
    /// operator JWT.
    pub system_account: Option<String>,
    /// Where account JWTs come from.
    pub resolver: ResolverConfig,
    /// `resolver_preload`: `(account public key, JWT)` in config order.
    pub preload: Vec<(String, String)>,
    /// `resolver_pinned_accounts` (system account added): when not empty,
    /// only these accounts may log in.
    pub pinned_accounts: Vec<String>,
}

impl TrustConfig {
    /// Reads operator mode from `opts.raw_config`. `Ok(None)` when the
    /// config names neither operators nor trusted keys.
    pub fn from_options(opts: &Options) -> Result<Option<TrustConfig>, ConfigError> {
        match &opts.raw_config {
            Some(map) => Self::from_map(map),
            None => Ok(None),
        }
    }

    /// [`TrustConfig::from_options`] on a parsed config map.
    pub fn from_map(map: &Map) -> Result<Option<TrustConfig>, ConfigError> {
        let ops_entry = find(map, OPERATOR_KEYS);
        let trusted_entry = find(map, TRUSTED_KEYS);
        if ops_entry.is_none() && trusted_entry.is_none() {
            return Ok(None);
        }

        let mut operators = Vec::new();
        if let Some((k, v)) = ops_entry {
            for (pos_v, s) in strings(k, v, "error parsing operators")? {
                let (token, claims) = read_operator_jwt(&s).map_err(|e| {
                    ConfigError::at(
                        &pos_v.pos,
                        &k.name,
                        format!("error parsing operator JWT: {e}"),
                    )
                })?;
                operators.push((token, claims));
            }
        }

        let mut trusted_keys = Vec::new();
        if let Some((k, v)) = trusted_entry {
            for (pv, key) in strings(k, v, "error parsing trusted")? {
                if !nkeys::is_valid_public_key(&key, KeyKind::Operator) {
                    return Err(ConfigError::at(
                        &pv.pos,
                        &k.name,
                        format!("trust key {key:?} required to be a valid public operator nkey"),
                    ));
                }
                trusted_keys.push(key);
            }
            if !operators.is_empty() {
                return Err(ConfigError::at(
                    &k.pos,
                    &k.name,
                    "conflicting options for 'TrustedKeys' and 'TrustedOperators'",
                ));
            }
        }
        trusted_keys.extend(issuer_keys(&operators));
        // Where errors about the operator setup as a whole point.
        let Some((anchor_key, anchor_val)) = ops_entry.or(trusted_entry) else {
            return Ok(None);
        };
        let anchor = |msg: String| ConfigError::at(&anchor_val.pos, &anchor_key.name, msg);

        for (_, op) in &operators {
            check_server_version(op).map_err(|e| anchor(e.to_string()))?;
        }

        // system_account
        let sys_entry = find(map, SYSTEM_KEYS);
        let mut system_account = match sys_entry {
            Some((k, v)) => match &v.kind {
                Kind::String(s) => Some(s.clone()),
                _ => {
                    return Err(ConfigError::at(
                        &v.pos,
                        &k.name,
                        "system account name must be a string",
                    ))
                }
            },
            None => None,
        };
        if let (Some(sys), Some((k, v))) = (&system_account, sys_entry) {
            let any_set = operators
                .iter()
                .any(|(_, o)| !o.nats.system_account.is_empty());
            let matches = operators.iter().any(|(_, o)| &o.nats.system_account == sys);
            if any_set && !matches {
                return Err(ConfigError::at(
                    &v.pos,
                    &k.name,
                    "system_account in config and operator JWT must be identical",
                ));
            }
        }
        if system_account.is_none() && operators.len() == 1 {
            let s = &operators[0].1.nats.system_account;
            if !s.is_empty() {
                system_account = Some(s.clone());
            }
        }

        // resolver
        let resolver = match find(map, RESOLVER_KEYS) {
            Some((k, v)) => parse_resolver(k, v)?,
            None => match operators.as_slice() {
                [(_, op)] if is_http_url(&op.nats.account_server_url) => ResolverConfig::Url {
                    url: format!(
                        "{}/accounts/",
                        op.nats.account_server_url.trim_end_matches('/')
                    ),
                },
                [] => ResolverConfig::Memory,
                _ => {
                    return Err(anchor(
                        "operators require an account resolver to be configured".into(),
                    ))
                }
            },
        };
        if let ResolverConfig::Dir(_) = resolver {
            if system_account.is_none() && !operators.is_empty() {
                return Err(anchor("using nats based account resolver - the system account needs to be specified in configuration or the operator jwt".into()));
            }
        }

        // resolver_preload
        let mut preload = Vec::new();
        if let Some((k, v)) = find(map, PRELOAD_KEYS) {
            let Kind::Map(m) = &v.kind else {
                return Err(ConfigError::at(
                    &v.pos,
                    &k.name,
                    "preload should be a map of account_public_key:account_jwt",
                ));
            };
            if matches!(resolver, ResolverConfig::Url { .. }) {
                return Err(ConfigError::at(&k.pos, &k.name, "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR"));
            }
            for (acc, val) in m.iter() {
                let Kind::String(token) = &val.kind else {
                    return Err(ConfigError::at(
                        &val.pos,
                        &k.name,
                        "preload map value should be a string JWT",
                    ));
                };
                match jwt::decode_account(token) {
                    Ok(c) if c.sub == acc.name => preload.push((acc.name.clone(), token.clone())),
                    Ok(_) => {
                        return Err(ConfigError::at(
                            &val.pos,
                            &k.name,
                            format!(
                                "preload account {:?}: subject does not match jwt content",
                                acc.name
                            ),
                        ))
                    }
                    Err(_) => {
                        return Err(ConfigError::at(&val.pos, &k.name, "invalid account JWT"))
                    }
                }
            }
        }

        // resolver_pinned_accounts
        let mut pinned_accounts = Vec::new();
        if let Some((k, v)) = find(map, PINNED_KEYS) {
            for (pv, key) in strings(k, v, "error parsing resolver_pinned_accounts")? {
                if !nkeys::is_valid_public_key(&key, KeyKind::Account) {
                    return Err(ConfigError::at(
                        &pv.pos,
                        &k.name,
                        format!("pinned account key {key:?} is not a valid public account nkey"),
                    ));
                }
                pinned_accounts.push(key);
            }
            if let Some(sys) = &system_account {
                if !pinned_accounts.contains(sys) {
                    pinned_accounts.push(sys.clone());
                }
            }
        }

        Ok(Some(TrustConfig {
            operators,
            trusted_keys,
            system_account,
            resolver,
            preload,
            pinned_accounts,
        }))
    }

    /// Trust in the given operators, outside a server config (tools such as
    /// the account server): trusted keys from their JWTs, the system
    /// account of the first that names one, no preloads.
    pub fn for_operators(
        operators: Vec<(String, OperatorClaims)>,
        resolver: ResolverConfig,
    ) -> TrustConfig {
        let trusted_keys = issuer_keys(&operators);
        let system_account = operators
            .iter()
            .map(|(_, o)| o.nats.system_account.clone())
            .find(|s| !s.is_empty());
        TrustConfig {
            operators,
            trusted_keys,
            system_account,
            resolver,
            preload: Vec::new(),
            pinned_accounts: Vec::new(),
        }
    }

    /// True when `key` may issue account JWTs: a trusted operator's identity
    /// key (unless it requires signing keys) or one of its signing keys.
    pub fn is_trusted_issuer(&self, key: &str) -> bool {
        self.trusted_keys.iter().any(|k| k == key)
    }

    /// Whether `key` is a signing key of a trusted operator with
    /// `strict_signing_key_usage`: accounts it issued take users only from
    /// their own signing keys.
    pub fn strict_signer(&self, key: &str) -> bool {
        self.operators.iter().any(|(_, o)| {
            o.nats.strict_signing_key_usage && o.nats.signing_keys.iter().any(|k| k == key)
        })
    }

    /// Whether `key` is the identity key of a trusted operator that requires
    /// accounts to be issued by signing keys.
    fn requires_signing_key(&self, key: &str) -> bool {
        self.operators
            .iter()
            .any(|(_, o)| o.sub == key && o.nats.strict_signing_key_usage)
    }

    /// Everything but the time checks: decodes and verifies, checks the
    /// issuer is trusted and that validation finds nothing blocking. This
    /// is what a store accepts (nats-server stores expired JWTs).
    ///
    /// # Errors
    /// An [`AccountJwtError`], whose text is the message nats-server replies
    /// with where it has one (`account validation failed` for an untrusted
    /// issuer).
    pub fn verify_account_jwt(&self, token: &str) -> Result<AccountClaims, AccountJwtError> {
        let claims = jwt::decode_account(token).map_err(AccountJwtError::Decode)?;
        if self.requires_signing_key(&claims.iss) {
            return Err(AccountJwtError::SigningKeyRequired);
        }
        if !self.is_trusted_issuer(&claims.iss) {
            return Err(AccountJwtError::UntrustedIssuer);
        }
        let vr = claims.validate(jwt::now());
        if vr.is_blocking(false) {
            let errors = vr.errors().map(|i| i.description.clone()).collect();
            return Err(AccountJwtError::Validation { errors });
        }
        Ok(claims)
    }

    /// What a `full` directory resolver accepts into its store, as
    /// nats-server's does: a well-formed account JWT without blocking
    /// validation errors, not issued by the identity key of an operator that
    /// requires signing keys. Whether a trusted operator signed it is checked
    /// only when the account is used, so an untrusted one is stored but
    /// admits nobody.
    ///
    /// # Errors
    /// [`AccountJwtError::Decode`], [`AccountJwtError::SigningKeyRequired`]
    /// or [`AccountJwtError::Validation`].
    pub fn verify_storable(&self, token: &str) -> Result<AccountClaims, AccountJwtError> {
        let claims = jwt::decode_account(token).map_err(AccountJwtError::Decode)?;
        if self.requires_signing_key(&claims.iss) {
            return Err(AccountJwtError::SigningKeyRequired);
        }
        let vr = claims.validate(jwt::now());
        if vr.is_blocking(false) {
            let errors = vr.errors().map(|i| i.description.clone()).collect();
            return Err(AccountJwtError::Validation { errors });
        }
        Ok(claims)
    }

    /// Whether an account JWT may be used at `now` (unix seconds):
    /// [`TrustConfig::verify_account_jwt`] plus `exp`/`nbf`.
    ///
    /// Operator JWTs carry no account limits in JWT v2; what an operator
    /// imposes on accounts is who may sign them (signing keys, strict
    /// usage), checked here.
    ///
    /// # Errors
    /// As [`TrustConfig::verify_account_jwt`], or
    /// [`AccountJwtError::Times`].
    pub fn validate_account_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> Result<AccountClaims, AccountJwtError> {
        let claims = self.verify_account_jwt(token)?;
        claims.check_times(now).map_err(AccountJwtError::Times)?;
        Ok(claims)
    }

    /// The resolver [`Validator`]: [`TrustConfig::verify_account_jwt`].
    pub fn validator(&self) -> Validator {
        let me = Arc::new(self.clone());
        Arc::new(move |token: &str| me.verify_account_jwt(token))
    }

    /// Builds the configured resolver with the preloads stored and this
    /// trust as its validator. For a URL resolver, call
    /// [`AccountResolver::start`] before serving (it checks the URL).
    pub fn build_resolver(&self) -> Result<Arc<dyn AccountResolver>, ResolverError> {
        let validator = if self.keeps_untrusted() {
            let me = Arc::new(self.clone());
            Arc::new(move |token: &str| me.verify_storable(token)) as Validator
        } else {
            self.validator()
        };
        resolver::build(&self.resolver, &self.preload, Some(validator))
    }

    /// Whether the resolver stores account JWTs before knowing a trusted
    /// operator signed them (`full`, as nats-server's).
    pub fn keeps_untrusted(&self) -> bool {
        matches!(&self.resolver, resolver::ResolverConfig::Dir(d) if d.kind == resolver::ResolverKind::Full)
    }
}

/// The keys that may sign accounts for these operators: identity keys
/// (unless strict) and signing keys, as nats-server expands `TrustedKeys`.
fn issuer_keys(operators: &[(String, OperatorClaims)]) -> Vec<String> {
    let mut keys = Vec::new();
    for (_, op) in operators {
        if !op.nats.strict_signing_key_usage {
            keys.push(op.sub.clone());
        }
        keys.extend(op.nats.signing_keys.iter().cloned());
    }
    keys
}

/// The last of `names` present in `map` (later keys win, as for all
/// options), with its key.
fn find<'a>(map: &'a Map, names: &[&str]) -> Option<(&'a Key, &'a Value)> {
    map.entries
        .iter()
        .rev()
        .find(|(k, _)| names.iter().any(|n| k.name.eq_ignore_ascii_case(n)))
        .map(|(k, v)| (k, v))
}

/// A string or a list of strings, each with its value (for its position).
fn strings<'a>(k: &Key, v: &'a Value, what: &str) -> Result<Vec<(&'a Value, String)>, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(vec![(v, s.clone())]),
        Kind::Array(items) => items
            .iter()
            .map(|it| match &it.kind {
                Kind::String(s) => Ok((it, s.clone())),
                other => Err(ConfigError::at(
                    &it.pos,
                    &k.name,
                    format!(
                        "{what}: unsupported type {} where string is expected",
                        kind_name(other)
                    ),
                )),
            })
            .collect(),
        other => Err(ConfigError::at(
            &v.pos,
            &k.name,
            format!("{what}: unsupported type {}", kind_name(other)),
        )),
    }
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::String(_) => "string",
        Kind::Integer(_) => "integer",
        Kind::Float(_) => "float",
        Kind::Bool(_) => "bool",
        Kind::Duration(_) => "duration",
        Kind::DateTime(_) => "datetime",
        Kind::Array(_) => "array",
        Kind::Map(_) => "map",
    }
}

/// An operator JWT from a file (plain or decorated like nsc writes it) or
/// inline, as nats-server's `readOperatorJWT`.
///
/// # Errors
/// An [`OperatorJwtError`]: unreadable file, no JWT in it, or not a valid
/// operator JWT.
pub fn read_operator_jwt(file_or_jwt: &str) -> Result<(String, OperatorClaims), OperatorJwtError> {
    let contents = match std::fs::read_to_string(Path::new(file_or_jwt)) {
        Ok(c) => c,
        Err(_) if file_or_jwt.starts_with(JWT_PREFIX) => file_or_jwt.to_string(),
        Err(e) => {
            return Err(OperatorJwtError::Read {
                path: file_or_jwt.to_string(),
                message: e.to_string(),
            })
        }
    };
    let token = crate::creds::parse_jwt(&contents).map_err(OperatorJwtError::NoJwt)?;
    let claims = jwt::decode_operator(&token).map_err(OperatorJwtError::Decode)?;
    Ok((token, claims))
}

/// nats-server's `assert_server_version` check against [`crate::VERSION`].
fn check_server_version(op: &OperatorClaims) -> Result<(), ServerVersionError> {
    let want = &op.nats.assert_server_version;
    if want.is_empty() {
        return Ok(());
    }
    let Some((major, minor, update)) = jwt::operator::parse_server_version(want) else {
        return Err(ServerVersionError::Malformed {
            operator: op.sub.clone(),
            want: want.clone(),
        });
    };
    let (smaj, smin, supd) =
        jwt::operator::parse_server_version(crate::VERSION).unwrap_or((0, 0, 0));
    let too_new = if major != smaj {
        major > smaj
    } else if minor != smin {
        minor > smin
    } else {
        update > supd
    };
    if too_new {
        return Err(ServerVersionError::TooOld {
            operator: op.sub.clone(),
            want: want.clone(),
            have: crate::VERSION,
        });
    }
    Ok(())
}

fn is_http_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    (l.starts_with("http://") || l.starts_with("https://"))
        && s.split("://").nth(1).is_some_and(|r| !r.is_empty())
}

/// `resolver: MEMORY`, `resolver: URL("…")` or `resolver { … }`.
fn parse_resolver(k: &Key, v: &Value) -> Result<ResolverConfig, ConfigError> {
    let err = |pos: &crate::config::Pos, msg: String| ConfigError::at(pos, &k.name, msg);
    match &v.kind {
        Kind::String(s) => {
            let t = s.trim();
            let upper = t.to_ascii_uppercase();
            if upper == "MEM" || upper == "MEMORY" {
                return Ok(ResolverConfig::Memory);
            }
            if upper.starts_with("URL") {
                let inner = t[3..]
                    .trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .map(|r| r.trim().trim_matches('"').trim())
                    .ok_or_else(|| err(&v.pos, RESOLVER_SYNTAX.into()))?;
                if !is_http_url(inner) {
                    return Err(err(
                        &v.pos,
                        format!("error parsing account resolver url {inner:?}: must be http:// or https://"),
                    ));
                }
                let mut url = inner.to_string();
                if !url.ends_with('/') {
                    url.push('/');
                }
                return Ok(ResolverConfig::Url { url });
            }
            Err(err(&v.pos, RESOLVER_SYNTAX.into()))
        }
        Kind::Map(m) => parse_dir_resolver(k, v, m),
        other => Err(err(
            &v.pos,
            format!(
                "error parsing operator resolver, wrong type {}",
                kind_name(other)
            ),
        )),
    }
}

fn parse_dir_resolver(k: &Key, v: &Value, m: &Map) -> Result<ResolverConfig, ConfigError> {
    let key = |sub: &str| format!("{}.{sub}", k.name);
    let string = |name: &str| -> Result<Option<(String, &Value)>, ConfigError> {
        match m.get(name) {
            None => Ok(None),
            Some(val) => match &val.kind {
                Kind::String(s) => Ok(Some((s.clone(), val))),
                other => Err(ConfigError::wrong_type(
                    &val.pos,
                    &key(name),
                    "a string",
                    other,
                )),
            },
        }
    };
    let boolean = |name: &str| -> Result<Option<bool>, ConfigError> {
        match m.get(name) {
            None => Ok(None),
            Some(val) => match &val.kind {
                Kind::Bool(b) => Ok(Some(*b)),
                other => Err(ConfigError::wrong_type(
                    &val.pos,
                    &key(name),
                    "a boolean",
                    other,
                )),
            },
        }
    };
    let duration = |name: &str| -> Result<Option<Duration>, ConfigError> {
        match m.get(name) {
            None => Ok(None),
            Some(val) => match &val.kind {
                Kind::Duration(d) => Ok(Some(*d)),
                Kind::String(s) => crate::config::parse_duration(s).map(Some).ok_or_else(|| {
                    ConfigError::at(
                        &val.pos,
                        &key(name),
                        format!("time: invalid duration {s:?}"),
                    )
                }),
                other => Err(ConfigError::wrong_type(
                    &val.pos,
                    &key(name),
                    "a duration",
                    other,
                )),
            },
        }
    };
    let kind = string("type")?;
    let dir = string("dir")?;
    let allow_delete = boolean("allow_delete")?;
    let hard_delete = boolean("hard_delete")?;
    let limit = match m.get("limit") {
        None => None,
        Some(val) => match val.kind {
            Kind::Integer(n) if n >= 0 => Some(n as u64),
            ref other => {
                return Err(ConfigError::wrong_type(
                    &val.pos,
                    &key("limit"),
                    "a non-negative integer",
                    other,
                ))
            }
        },
    };
    let ttl = duration("ttl")?;
    let interval = duration("interval")?;
    let timeout = duration("timeout")?;

    let here = |msg: &str| ConfigError::at(&v.pos, &k.name, msg);
    let kind = match kind
        .as_ref()
        .map(|(s, _)| s.to_ascii_uppercase())
        .as_deref()
    {
        Some("FULL") => ResolverKind::Full,
        Some("CACHE") => ResolverKind::Cache,
        Some("MEM") | Some("MEMORY") => return Ok(ResolverConfig::Memory),
        _ => return Err(here(RESOLVER_SYNTAX)),
    };
    let dir = match dir {
        Some((d, _)) if !d.is_empty() => d,
        _ => return Err(here("dir has no value and needs to point to a directory")),
    };
    if let Ok(md) = std::fs::metadata(&dir) {
        if !md.is_dir() {
            return Err(here("dir needs to point to an accessible directory"));
        }
    }
    let mut cfg = DirResolverConfig::new(kind, dir);
    cfg.limit = limit.filter(|l| *l > 0);
    if let Some(t) = timeout {
        cfg.timeout = t;
    }
    match kind {
        ResolverKind::Cache => {
            if interval.is_some_and(|d| !d.is_zero()) {
                return Err(here("CACHE does not accept sync"));
            }
            if allow_delete == Some(true) {
                return Err(here("CACHE does not accept allow_delete"));
            }
            if hard_delete.is_some() {
                return Err(here("CACHE does not accept hard_delete"));
            }
            cfg.ttl = ttl.filter(|d| !d.is_zero());
        }
        _ => {
            if ttl.is_some_and(|d| !d.is_zero()) {
                return Err(here("FULL does not accept ttl"));
            }
            if hard_delete.is_some() && allow_delete != Some(true) {
                return Err(here("hard_delete has no effect without delete"));
            }
            cfg.allow_delete = allow_delete.unwrap_or(false);
            cfg.hard_delete = hard_delete.unwrap_or(false);
            if let Some(i) = interval.filter(|d| !d.is_zero()) {
                cfg.interval = i;
            }
        }
    }
    Ok(ResolverConfig::Dir(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Claims;
    use crate::nkeys::KeyPair;

    struct Op {
        key: KeyPair,
        signing: KeyPair,
        sys: KeyPair,
        jwt: String,
    }

    fn operator(strict: bool) -> Op {
        let key = KeyPair::new_operator();
        let signing = KeyPair::new_operator();
        let sys = KeyPair::new_account();
        let mut c: OperatorClaims = Claims::new(key.public_key());
        c.name = "OP".into();
        c.nats.system_account = sys.public_key();
        c.nats.add_signing_key(&signing.public_key());
        c.nats.strict_signing_key_usage = strict;
        let jwt = c.encode(&key).unwrap();
        Op {
            key,
            signing,
            sys,
            jwt,
        }
    }

    fn account_jwt(signer: &KeyPair, acc: &str, iat: i64) -> String {
        let mut c = AccountClaims::new(acc);
        c.encode_at(signer, iat).unwrap()
    }

    fn trust(text: &str) -> Result<Option<TrustConfig>, ConfigError> {
        let map = crate::config::parse_str(text, Path::new("test.conf")).unwrap();
        TrustConfig::from_map(&map)
    }

    fn err(text: &str) -> String {
        trust(text).unwrap_err().to_string()
    }

    #[test]
    fn not_operator_mode() {
        assert_eq!(trust("port: 4222").unwrap(), None);
        let o = Options::default();
        assert_eq!(TrustConfig::from_options(&o).unwrap(), None);
    }

    #[test]
    fn inline_operator_memory_resolver_and_preload() {
        let op = operator(false);
        let acc = KeyPair::new_account().public_key();
        let a = account_jwt(&op.signing, &acc, 100);
        let t = trust(&format!(
            "operator: {}\nresolver: MEMORY\nresolver_preload: {{ {acc}: \"{a}\" }}\n",
            op.jwt
        ))
        .unwrap()
        .unwrap();
        assert_eq!(t.operators.len(), 1);
        assert_eq!(t.operators[0].0, op.jwt);
        assert_eq!(
            t.system_account.as_deref(),
            Some(op.sys.public_key().as_str())
        );
        assert_eq!(t.resolver, ResolverConfig::Memory);
        assert_eq!(t.preload, vec![(acc.clone(), a.clone())]);
        assert!(t.is_trusted_issuer(&op.key.public_key()));
        assert!(t.is_trusted_issuer(&op.signing.public_key()));
        assert!(!t.is_trusted_issuer(&KeyPair::new_operator().public_key()));
        let r = t.build_resolver().unwrap();
        assert_eq!(r.lookup(&acc).as_deref(), Some(a.as_str()));
    }

    #[test]
    fn operator_from_plain_and_decorated_files() {
        let op = operator(false);
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("op.jwt");
        std::fs::write(&plain, &op.jwt).unwrap();
        let deco = dir.path().join("deco.jwt");
        std::fs::write(&deco, crate::creds::decorate_jwt("operator", &op.jwt)).unwrap();
        for p in [&plain, &deco] {
            let t = trust(&format!(
                "operators: [\"{}\"]\nresolver: MEM\n",
                p.display()
            ))
            .unwrap()
            .unwrap();
            assert_eq!(t.operators[0].0, op.jwt);
        }
        let e = err("operator: \"/nonexistent/op.jwt\"\nresolver: MEM\n");
        assert!(e.starts_with("test.conf:1:"), "{e}");
        assert!(e.contains(":1:11: error parsing operator JWT"), "{e}");
    }

    #[test]
    fn system_account_must_match_operator() {
        let op = operator(false);
        let other = KeyPair::new_account().public_key();
        let e = err(&format!(
            "operator: {}\nsystem_account: {other}\nresolver: MEMORY\n",
            op.jwt
        ));
        assert!(
            e.contains("test.conf:2:")
                && e.ends_with("system_account in config and operator JWT must be identical"),
            "{e}"
        );
        let t = trust(&format!(
            "operator: {}\nsystem_account: {}\nresolver: MEMORY\n",
            op.jwt,
            op.sys.public_key()
        ))
        .unwrap()
        .unwrap();
        assert_eq!(t.system_account, Some(op.sys.public_key()));
    }

    #[test]
    fn resolver_forms() {
        let op = operator(false);
        let t = trust(&format!(
            "operator: {}\nresolver: URL(\"http://127.0.0.1:9090/jwt/v1/accounts\")\n",
            op.jwt
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            t.resolver,
            ResolverConfig::Url {
                url: "http://127.0.0.1:9090/jwt/v1/accounts/".into()
            }
        );
        let t = trust(&format!(
            "operator: {}\nresolver: {{ type: full, dir: \"./jwt\", allow_delete: true, interval: \"2m\", limit: 10, timeout: \"300ms\" }}\n",
            op.jwt
        ))
        .unwrap()
        .unwrap();
        let ResolverConfig::Dir(d) = &t.resolver else {
            panic!("{:?}", t.resolver)
        };
        assert_eq!(d.kind, ResolverKind::Full);
        assert!(d.allow_delete && !d.hard_delete);
        assert_eq!(d.interval, Duration::from_secs(120));
        assert_eq!(d.limit, Some(10));
        assert_eq!(d.timeout, Duration::from_millis(300));
        let t = trust(&format!(
            "operator: {}\nresolver: {{ type: cache, dir: \"./jwt\", ttl: \"1h\" }}\n",
            op.jwt
        ))
        .unwrap()
        .unwrap();
        let ResolverConfig::Dir(d) = &t.resolver else {
            panic!()
        };
        assert_eq!(
            (d.kind, d.ttl),
            (ResolverKind::Cache, Some(Duration::from_secs(3600)))
        );

        for (conf, want) in [
            ("resolver: FOO", "should be MEM or"),
            ("resolver: URL(\"ftp://x\")", "must be http"),
            ("resolver: { type: full }", "dir has no value"),
            (
                "resolver: { type: cache, dir: x, allow_delete: true }",
                "CACHE does not accept allow_delete",
            ),
            (
                "resolver: { type: full, dir: x, ttl: \"1h\" }",
                "FULL does not accept ttl",
            ),
            (
                "resolver: { type: full, dir: x, hard_delete: true }",
                "hard_delete has no effect without delete",
            ),
            (
                "resolver: { type: full, dir: x, interval: \"soon\" }",
                "invalid duration",
            ),
        ] {
            let e = err(&format!("operator: {}\n{conf}\n", op.jwt));
            assert!(
                e.contains("test.conf:2:") && e.contains(want),
                "{conf}: {e}"
            );
        }
        // No resolver and no account server URL.
        let e = err(&format!("operator: {}\n", op.jwt));
        assert!(e.contains("operators require an account resolver"), "{e}");
    }

    #[test]
    fn account_server_url_implies_url_resolver() {
        let key = KeyPair::new_operator();
        let mut c: OperatorClaims = Claims::new(key.public_key());
        c.nats.account_server_url = "http://127.0.0.1:9090/jwt/v1/".into();
        let jwt = c.encode(&key).unwrap();
        let t = trust(&format!("operator: {jwt}\n")).unwrap().unwrap();
        assert_eq!(
            t.resolver,
            ResolverConfig::Url {
                url: "http://127.0.0.1:9090/jwt/v1/accounts/".into()
            }
        );
        // Dir resolver needs a system account, which this operator lacks.
        let e = err(&format!(
            "operator: {jwt}\nresolver: {{ type: full, dir: x }}\n"
        ));
        assert!(
            e.contains("the system account needs to be specified"),
            "{e}"
        );
    }

    #[test]
    fn trusted_keys_mode_and_conflicts() {
        let k = KeyPair::new_operator().public_key();
        let t = trust(&format!("trusted: [{k}]\n")).unwrap().unwrap();
        assert_eq!(t.trusted_keys, vec![k.clone()]);
        assert!(t.operators.is_empty());
        let e = err("trusted: [\"ABC\"]\n");
        assert!(
            e.contains("required to be a valid public operator nkey"),
            "{e}"
        );
        let op = operator(false);
        let e = err(&format!(
            "operator: {}\ntrusted: {k}\nresolver: MEM\n",
            op.jwt
        ));
        assert!(e.contains("conflicting options"), "{e}");
    }

    #[test]
    fn preload_errors() {
        let op = operator(false);
        let acc = KeyPair::new_account().public_key();
        let e = err(&format!(
            "operator: {}\nresolver: MEM\nresolver_preload: {{ {acc}: \"not a jwt\" }}\n",
            op.jwt
        ));
        assert!(
            e.contains("test.conf:3:") && e.ends_with("invalid account JWT"),
            "{e}"
        );
        let a = account_jwt(&op.key, &acc, 1);
        let e = err(&format!(
            "operator: {}\nresolver: URL(\"http://h/\")\nresolver_preload: {{ {acc}: \"{a}\" }}\n",
            op.jwt
        ));
        assert!(e.contains("only available for writeable resolver"), "{e}");
    }

    #[test]
    fn pinned_accounts_include_system() {
        let op = operator(false);
        let acc = KeyPair::new_account().public_key();
        let t = trust(&format!(
            "operator: {}\nresolver: MEM\nresolver_pinned_accounts: [{acc}]\n",
            op.jwt
        ))
        .unwrap()
        .unwrap();
        assert_eq!(t.pinned_accounts, vec![acc, op.sys.public_key()]);
    }

    #[test]
    fn validate_account_jwts() {
        let op = operator(false);
        let t = trust(&format!("operator: {}\nresolver: MEM\n", op.jwt))
            .unwrap()
            .unwrap();
        let acc = KeyPair::new_account();
        let now = jwt::now();
        assert!(t
            .validate_account_jwt(&account_jwt(&op.key, &acc.public_key(), now), now)
            .is_ok());
        assert!(t
            .validate_account_jwt(&account_jwt(&op.signing, &acc.public_key(), now), now)
            .is_ok());
        let rogue = KeyPair::new_operator();
        let e = t
            .validate_account_jwt(&account_jwt(&rogue, &acc.public_key(), now), now)
            .unwrap_err();
        assert_eq!(e, AccountJwtError::UntrustedIssuer);
        assert_eq!(e.to_string(), "account validation failed");
        // Self-signed account JWTs are not trusted.
        assert!(t
            .validate_account_jwt(&account_jwt(&acc, &acc.public_key(), now), now)
            .is_err());
        assert!(t.validate_account_jwt("garbage", now).is_err());
        // Expired: refused for use, accepted for storing.
        let mut c = AccountClaims::new(acc.public_key());
        c.exp = now - 10;
        let expired = c.encode_at(&op.key, now - 100).unwrap();
        assert!(matches!(
            t.validate_account_jwt(&expired, now),
            Err(AccountJwtError::Times(jwt::Error::Expired { .. }))
        ));
        assert!(t.verify_account_jwt(&expired).is_ok());
        // The validator refuses untrusted JWTs in resolvers.
        let r = crate::resolver::MemoryResolver::new(Some(t.validator()));
        assert!(r
            .store_sync(
                &acc.public_key(),
                &account_jwt(&rogue, &acc.public_key(), now)
            )
            .is_err());
    }

    #[test]
    fn operator_server_version_assertion() {
        for (want, msg) in [
            (
                "99.0.0",
                format!(
                    "expects server version 99.0.0 > server version {}",
                    crate::VERSION
                ),
            ),
            (
                "x.y",
                "expects version x.y got error instead: bad version".to_string(),
            ),
        ] {
            let key = KeyPair::new_operator();
            let mut c: OperatorClaims = Claims::new(key.public_key());
            c.nats.assert_server_version = want.into();
            let jwt = c.encode(&key).unwrap();
            let e = err(&format!("operator: {jwt}\nresolver: MEM\n"));
            assert!(
                e.starts_with("test.conf:1:")
                    && e.ends_with(&format!("operator {} {msg}", key.public_key())),
                "{e}"
            );
        }
    }

    #[test]
    fn strict_operator_needs_signing_keys() {
        let op = operator(true);
        let t = trust(&format!("operator: {}\nresolver: MEM\n", op.jwt))
            .unwrap()
            .unwrap();
        assert!(!t.is_trusted_issuer(&op.key.public_key()));
        let acc = KeyPair::new_account().public_key();
        let now = jwt::now();
        let e = t
            .validate_account_jwt(&account_jwt(&op.key, &acc, now), now)
            .unwrap_err();
        assert_eq!(e, AccountJwtError::SigningKeyRequired);
        assert_eq!(
            e.to_string(),
            "operator requires issuer to be a signing key"
        );
        assert!(t
            .validate_account_jwt(&account_jwt(&op.signing, &acc, now), now)
            .is_ok());
    }
}
