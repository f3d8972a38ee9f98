//! Operator mode: the server trusts only the configured operators' keys.
//! Account JWTs come from the resolver (`MEMORY` with `resolver_preload`, or
//! a `full`/`cache` directory); a claim is used only when a trusted operator
//! (or one of its signing keys) signed it, and a stored claim is never
//! replaced by one issued earlier, so a revocation cannot be undone by
//! replaying an old JWT.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, Kind, Options, Value};
use crate::jwt::{AccountClaims, OperatorClaims};

/// Where account JWTs are kept.
#[derive(Debug)]
pub enum ResolverKind {
    /// `MEMORY`: the preloaded JWTs and updates, in memory.
    Memory,
    /// `{ type: full|cache, dir }`: one `<pubkey>.jwt` file per account.
    Dir { dir: PathBuf, full: bool },
}

/// What a claims update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Updated,
    /// The resolver does not keep accounts it was not asked about.
    Skipped,
}

/// The trusted operators and the account JWT store.
#[derive(Debug)]
pub struct OperatorMode {
    pub operators: Vec<OperatorClaims>,
    pub system_account: Option<String>,
    pub resolver: ResolverKind,
    jwts: RwLock<HashMap<String, String>>,
}

fn read_jwt_text(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|t| t.starts_with("eyJ") && t.matches('.').count() == 2)
        .map(str::to_owned)
}

fn strings(v: &Value) -> Vec<(String, &Value)> {
    match &v.kind {
        Kind::String(s) => vec![(s.clone(), v)],
        Kind::Array(items) => items
            .iter()
            .filter_map(|i| match &i.kind {
                Kind::String(s) => Some((s.clone(), i)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl OperatorMode {
    /// Reads operator mode from the config; `None` when no operator is set.
    ///
    /// # Errors
    /// Unreadable or invalid operator JWTs, a system account that disagrees
    /// with the operator's, a bad resolver, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<Option<OperatorMode>, ConfigError> {
        let Some(raw) = &opts.raw_config else {
            return Ok(None);
        };
        let mut operators = Vec::new();
        let mut resolver = None;
        let mut preload = HashMap::new();
        for (k, v) in raw.iter() {
            let key = k.name.to_ascii_lowercase();
            match key.as_str() {
                "operator" | "operators" | "root" | "roots" => {
                    for (s, item) in strings(v) {
                        let text = if s.starts_with("eyJ") {
                            s.clone()
                        } else {
                            std::fs::read_to_string(&s).map_err(|e| {
                                ConfigError::at(
                                    &item.pos,
                                    &k.name,
                                    format!("error reading operator JWT file {s:?}: {e}"),
                                )
                            })?
                        };
                        let jwt = read_jwt_text(&text).ok_or_else(|| {
                            ConfigError::at(&item.pos, &k.name, "no operator JWT found")
                        })?;
                        let claims = crate::jwt::decode_operator(&jwt).map_err(|e| {
                            ConfigError::at(
                                &item.pos,
                                &k.name,
                                format!("invalid operator JWT: {e}"),
                            )
                        })?;
                        operators.push(claims);
                    }
                }
                "resolver" => {
                    resolver = Some(match &v.kind {
                        Kind::String(s) if s.eq_ignore_ascii_case("MEMORY") => ResolverKind::Memory,
                        Kind::Map(m) => {
                            let kind = m
                                .get("type")
                                .and_then(|t| match &t.kind {
                                    Kind::String(s) => Some(s.to_ascii_lowercase()),
                                    _ => None,
                                })
                                .unwrap_or_else(|| "full".into());
                            let dir = m
                                .get("dir")
                                .and_then(|t| match &t.kind {
                                    Kind::String(s) => Some(s.clone()),
                                    _ => None,
                                })
                                .unwrap_or_else(|| ".".into());
                            match kind.as_str() {
                                "full" | "cache" => ResolverKind::Dir {
                                    dir: PathBuf::from(dir),
                                    full: kind == "full",
                                },
                                other => {
                                    return Err(ConfigError::at(
                                        &v.pos,
                                        "resolver",
                                        format!("unknown resolver type {other:?}"),
                                    ))
                                }
                            }
                        }
                        _ => {
                            return Err(ConfigError::at(
                                &v.pos,
                                "resolver",
                                "this resolver is not supported by this version of rnats",
                            ))
                        }
                    });
                }
                "resolver_preload" => {
                    let Kind::Map(m) = &v.kind else {
                        return Err(ConfigError::at(
                            &v.pos,
                            "resolver_preload",
                            "expected a map",
                        ));
                    };
                    for (pk, jv) in m.iter() {
                        let Kind::String(j) = &jv.kind else {
                            return Err(ConfigError::at(
                                &jv.pos,
                                "resolver_preload",
                                "expected a JWT string",
                            ));
                        };
                        preload.insert(pk.name.clone(), j.clone());
                    }
                }
                _ => {}
            }
        }
        if operators.is_empty() {
            return Ok(None);
        }
        let op_sys = operators
            .iter()
            .map(|o| o.nats.system_account.clone())
            .find(|s| !s.is_empty());
        let system_account = match (&opts.system_account, op_sys) {
            (Some(c), Some(o)) if *c != o => {
                return Err(ConfigError::new(
                    None,
                    Some("system_account"),
                    "system_account in config and operator JWT must be identical",
                ))
            }
            (Some(c), _) => Some(c.clone()),
            (None, o) => o,
        };
        let resolver = resolver.unwrap_or(ResolverKind::Memory);
        let mode = OperatorMode {
            operators,
            system_account,
            resolver,
            jwts: RwLock::new(HashMap::new()),
        };
        if let ResolverKind::Dir { dir, .. } = &mode.resolver {
            std::fs::create_dir_all(dir).map_err(|e| {
                ConfigError::new(
                    None,
                    Some("resolver"),
                    format!("resolver dir {}: {e}", dir.display()),
                )
            })?;
        }
        for (pk, jwt) in preload {
            // Preloaded JWTs are checked like any other; a bad one is logged
            // and left out rather than trusted.
            if let Err(e) = mode.store(&pk, &jwt) {
                log::warn!("resolver_preload {pk}: {e}");
            }
        }
        Ok(Some(mode))
    }

    /// Decodes an account JWT and checks that a trusted operator signed it
    /// and that it is within its times.
    pub fn validate(&self, jwt: &str) -> Result<AccountClaims, String> {
        let claims =
            crate::jwt::decode_account(jwt).map_err(|_| "account validation failed".to_owned())?;
        if !self.operators.iter().any(|o| o.did_sign(&claims)) {
            return Err("account validation failed".into());
        }
        claims
            .check_times(crate::jwt::now())
            .map_err(|e| format!("account validation failed: {e}"))?;
        Ok(claims)
    }

    fn dir_path(&self, pubkey: &str) -> Option<PathBuf> {
        match &self.resolver {
            ResolverKind::Dir { dir, .. } if is_account_key(pubkey) => {
                Some(dir.join(format!("{pubkey}.jwt")))
            }
            _ => None,
        }
    }

    /// The JWT held for an account, if any.
    pub fn lookup(&self, pubkey: &str) -> Option<String> {
        if let Some(j) = self.jwts.read().get(pubkey) {
            return Some(j.clone());
        }
        let path = self.dir_path(pubkey)?;
        let text = std::fs::read_to_string(path).ok()?;
        let jwt = read_jwt_text(&text)?;
        self.jwts.write().insert(pubkey.to_owned(), jwt.clone());
        Some(jwt)
    }

    /// The validated claims of an account.
    pub fn account_claims(&self, pubkey: &str) -> Result<AccountClaims, String> {
        let jwt = self
            .lookup(pubkey)
            .ok_or_else(|| format!("account {pubkey} not found"))?;
        let c = self.validate(&jwt)?;
        if c.sub != pubkey {
            return Err("subject does not match jwt content".into());
        }
        Ok(c)
    }

    /// Stores a new JWT for `pubkey` after checking it; refuses one issued
    /// before the JWT in force.
    pub fn store(&self, pubkey: &str, jwt: &str) -> Result<AccountClaims, String> {
        let claims = self.validate(jwt)?;
        if claims.sub != pubkey {
            return Err("subject does not match jwt content".into());
        }
        if let Some(current) = self.lookup(pubkey) {
            if let Ok(cur) = crate::jwt::decode_account(&current) {
                if claims.iat < cur.iat {
                    return Err("jwt update refused: issued before the jwt in force".into());
                }
            }
        }
        if let Some(path) = self.dir_path(pubkey) {
            write_atomic(&path, jwt).map_err(|e| format!("storing jwt: {e}"))?;
        }
        self.jwts.write().insert(pubkey.to_owned(), jwt.to_owned());
        Ok(claims)
    }

    /// Whether updates for accounts the server does not know yet are kept
    /// (directory resolvers) or skipped.
    pub fn stores_unknown(&self) -> bool {
        matches!(self.resolver, ResolverKind::Dir { .. })
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.resolver, ResolverKind::Dir { .. })
    }

    /// Public keys of the accounts held (`$SYS.REQ.CLAIMS.LIST`).
    pub fn list(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.jwts.read().keys().cloned().collect();
        if let ResolverKind::Dir { dir, .. } = &self.resolver {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    if let Some(k) = e.file_name().to_str().and_then(|n| n.strip_suffix(".jwt")) {
                        if is_account_key(k) && !keys.iter().any(|x| x == k) {
                            keys.push(k.to_owned());
                        }
                    }
                }
            }
        }
        keys.sort();
        keys
    }
}

fn is_account_key(k: &str) -> bool {
    k.len() == 56 && k.starts_with('A') && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Writes through a temporary file and a rename, so a reader never sees half
/// a JWT.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("jwt.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}
