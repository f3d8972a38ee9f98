//! The auth pipeline: one mechanism that decides who a connection is and
//! what it may do, before it may do anything else.
//!
//! [`AuthConfig::from_options`] reads the configured method (a token, a
//! single user, or users and nkey users with permissions, with
//! `no_auth_user` and TLS certificate mapping); [`AuthConfig::authenticate`]
//! checks one CONNECT against it and returns the [`Identity`] the connection
//! runs as. Each credential kind has its own small function; the order they
//! are tried in is nats-server's.
//!
//! Secrets are compared in constant time and bcrypt hashes are verified on
//! the blocking pool, so a burst of logins cannot stall other connections.
//! Why a login failed goes to the server log, never to the client.

pub mod permissions;
pub mod users;

use std::sync::Arc;

use crate::config::{ConfigError, Kind, Options};
use crate::protocol::messages::Connect;
pub use permissions::Permissions;
pub use users::{MergeError, NkeyUser, User, Users};

/// Who a connection authenticated as.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// User name or nkey, for logs and monitoring ("" when anonymous).
    pub name: String,
    /// Account to bind to (`None` = the global account).
    pub account: Option<String>,
    pub permissions: Option<Arc<Permissions>>,
    /// The user's rate quota (`limits {}` of the user).
    pub rate: Option<crate::quota::RateLimit>,
}

/// Why [`AuthConfig::authenticate`] refused a CONNECT. The text is for the
/// server log only; the client hears `Authorization Violation` whatever the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Token auth, and the CONNECT has no `auth_token`.
    #[error("no token given")]
    NoToken,
    /// The `auth_token` is not the configured one.
    #[error("invalid token")]
    InvalidToken,
    /// Single-user auth, and the CONNECT has no `user`.
    #[error("no user given")]
    NoUser,
    /// Single-user auth with the wrong user or password.
    #[error("invalid user/password for {user:?}")]
    InvalidUserPassword { user: String },
    /// The CONNECT's `nkey` is no configured nkey user.
    #[error("unknown nkey {nkey}")]
    UnknownNkey { nkey: String },
    /// An nkey without the `sig` over the nonce.
    #[error("nkey without signature")]
    MissingSignature,
    /// The `sig` is not the nkey's signature of the nonce.
    #[error("nkey signature: {0}")]
    BadSignature(crate::nkeys::Error),
    /// `verify_and_map`, and the connection has no verified certificate.
    #[error("no verified client certificate to map")]
    NoClientCertificate,
    /// `verify_and_map`, and no user matches the certificate.
    #[error("no user for certificate {subject:?}")]
    UnmappedCertificate { subject: String },
    /// No credentials at all, and no `no_auth_user` to run as.
    #[error("no credentials")]
    NoCredentials,
    /// The CONNECT's `user` is no configured user.
    #[error("unknown user {name:?}")]
    UnknownUser { name: String },
    /// The user has no password: only certificate mapping admits it.
    #[error("user {name:?} authenticates by certificate only")]
    CertificateOnly { name: String },
    /// The password is not the user's.
    #[error("invalid password for user {name:?}")]
    InvalidPassword { name: String },
    /// The user's `allowed_connection_types` exclude client connections.
    #[error("connection type not allowed for user {name:?}")]
    UserConnectionType { name: String },
    /// The nkey user's `allowed_connection_types` exclude client
    /// connections.
    #[error("connection type not allowed for nkey {nkey}")]
    NkeyConnectionType { nkey: String },
}

/// What the connection presents besides CONNECT.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The nonce sent in INFO (nkey signatures sign it).
    pub nonce: &'a [u8],
    /// The verified client certificate, mapped to a user under
    /// `verify_and_map`; `None` without one.
    pub peer_cert: Option<&'a crate::tls::PeerCert>,
}

/// The configured authentication method.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Method {
    /// No authentication: everyone is admitted.
    #[default]
    None,
    /// `authorization { token }` / `--auth`.
    Token(String),
    /// `authorization { user, password }` / `--user --pass`.
    Single { user: String, password: String },
    /// `authorization { users: [...] }` (user/password and nkey users).
    Users(Users),
}

/// The whole auth configuration of a server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthConfig {
    pub method: Method,
    /// `no_auth_user`: the user a client without credentials runs as.
    pub no_auth_user: Option<String>,
    /// `tls { verify_and_map }`: users come from client certificates.
    pub verify_and_map: bool,
}

impl AuthConfig {
    /// Reads the auth settings of `opts` (and the `--user/--pass/--auth`
    /// flags already merged into them).
    ///
    /// # Errors
    /// Malformed users or permissions, conflicting methods, or a
    /// `no_auth_user` that names no user, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<AuthConfig, ConfigError> {
        let mut users = Users::default();
        let mut defaults = None;
        let mut users_pos = None;
        if let Some(block) = &opts.authorization_block {
            if let Some(v) = block.get("default_permissions") {
                defaults = Some(permissions::parse(v, "authorization.default_permissions")?);
            }
            for (k, v) in block.iter() {
                let name = k.name.to_ascii_lowercase();
                match name.as_str() {
                    "users" => {
                        users_pos = Some(k.pos.clone());
                        let parsed =
                            users::parse_users(v, "authorization.users", None, defaults.as_ref())?;
                        users.merge(parsed).map_err(|e| {
                            ConfigError::at(&k.pos, "authorization.users", e.to_string())
                        })?;
                    }
                    "default_permission" | "permissions" => {
                        // nats-server reads these as default permissions
                        // too; here they are only checked.
                        permissions::parse(v, &format!("authorization.{}", k.name))?;
                    }
                    _ => {}
                }
            }
        }
        let users_in_accounts = users_of_accounts(opts, &mut users)?;
        if let Some(pos) = users_in_accounts {
            if opts.username.is_some() {
                return Err(ConfigError::new(
                    Some(pos),
                    Some("accounts"),
                    "Can not have a single user/pass and accounts",
                ));
            }
            if opts.authorization.is_some() {
                return Err(ConfigError::new(
                    Some(pos),
                    Some("accounts"),
                    "Can not have a token and accounts",
                ));
            }
        }
        let method = if !users.is_empty() {
            if opts.authorization.is_some() {
                return Err(ConfigError::new(
                    users_pos,
                    Some("authorization"),
                    "Can not have a token and a users array",
                ));
            }
            if opts.username.is_some() {
                return Err(ConfigError::new(
                    users_pos,
                    Some("authorization"),
                    "Can not have a single user/pass and a users array",
                ));
            }
            Method::Users(users)
        } else if let Some(token) = &opts.authorization {
            Method::Token(token.clone())
        } else if let Some(user) = &opts.username {
            Method::Single {
                user: user.clone(),
                password: opts.password.clone().unwrap_or_default(),
            }
        } else {
            Method::None
        };
        let verify_and_map = opts
            .tls_block
            .as_ref()
            .and_then(|t| t.get("verify_and_map"))
            .is_some_and(|v| matches!(v.kind, Kind::Bool(true)));
        let cfg = AuthConfig {
            method,
            no_auth_user: opts.no_auth_user.clone(),
            verify_and_map,
        };
        if let Some(name) = &cfg.no_auth_user {
            cfg.check_no_auth_user(name).map_err(|msg| {
                let pos = opts
                    .raw_config
                    .as_ref()
                    .and_then(|m| {
                        m.iter()
                            .find(|(k, _)| k.name.eq_ignore_ascii_case("no_auth_user"))
                    })
                    .map(|(k, _)| k.pos.clone());
                ConfigError::new(pos, Some("no_auth_user"), msg)
            })?;
        }
        Ok(cfg)
    }

    /// nats-server's start-up check of `no_auth_user` (`validateNoAuthUser`),
    /// with its texts (which quote the name with `"%s"`, unescaped).
    fn check_no_auth_user(&self, name: &str) -> Result<(), String> {
        let Method::Users(u) = &self.method else {
            return Err(format!(
                "no_auth_user: \"{name}\" present, but users/nkeys are not defined"
            ));
        };
        if u.users.contains_key(name) || u.nkeys.contains_key(name) {
            return Ok(());
        }
        Err(format!("no_auth_user: \"{name}\" not present as user or nkey in authorization block or account configuration"))
    }

    /// Whether clients must authenticate (the auth timeout applies).
    pub fn enabled(&self) -> bool {
        !matches!(self.method, Method::None)
    }

    /// INFO's `auth_required`: false when `no_auth_user` lets anonymous
    /// clients in, as nats-server reports it.
    pub fn info_auth_required(&self) -> bool {
        self.enabled() && self.no_auth_user.is_none()
    }

    /// Whether a users list (user/password or nkey users) is configured.
    pub fn has_users(&self) -> bool {
        matches!(self.method, Method::Users(_))
    }

    /// Whether INFO carries a nonce (nkey users exist).
    pub fn needs_nonce(&self) -> bool {
        matches!(&self.method, Method::Users(u) if !u.nkeys.is_empty())
    }

    /// Checks a CONNECT. The error is the reason for the log; the client only
    /// ever hears `Authorization Violation`.
    ///
    /// # Errors
    /// Why the CONNECT is refused, as an [`AuthError`].
    pub async fn authenticate(&self, c: &Connect, p: Presented<'_>) -> Result<Identity, AuthError> {
        match &self.method {
            Method::None => Ok(Identity::default()),
            Method::Token(expected) => {
                let given = c.auth_token.clone().ok_or(AuthError::NoToken)?;
                if secret_matches(expected, given).await {
                    Ok(Identity::default())
                } else {
                    Err(AuthError::InvalidToken)
                }
            }
            Method::Single { user, password } => {
                let given = c.user.as_deref().ok_or(AuthError::NoUser)?;
                let user_ok = crate::nkeys::ct_eq(given.as_bytes(), user.as_bytes());
                let pass_ok = secret_matches(password, c.pass.clone().unwrap_or_default()).await;
                if user_ok && pass_ok {
                    Ok(Identity {
                        name: user.clone(),
                        ..Identity::default()
                    })
                } else {
                    Err(AuthError::InvalidUserPassword {
                        user: given.to_owned(),
                    })
                }
            }
            Method::Users(users) => self.authenticate_user(users, c, p).await,
        }
    }

    async fn authenticate_user(
        &self,
        users: &Users,
        c: &Connect,
        p: Presented<'_>,
    ) -> Result<Identity, AuthError> {
        let no_credentials = c.user.as_deref().unwrap_or("").is_empty()
            && c.pass.as_deref().unwrap_or("").is_empty()
            && c.auth_token.as_deref().unwrap_or("").is_empty()
            && c.nkey.as_deref().unwrap_or("").is_empty();
        if let Some(nk) = c.nkey.as_deref().filter(|s| !s.is_empty()) {
            let u = users.nkeys.get(nk).ok_or_else(|| AuthError::UnknownNkey {
                nkey: nk.to_owned(),
            })?;
            let sig = c.sig.as_deref().ok_or(AuthError::MissingSignature)?;
            crate::nkeys::verify_nonce_signature(nk, p.nonce, sig)
                .map_err(AuthError::BadSignature)?;
            return nkey_identity(u);
        }
        if self.verify_and_map {
            // The user comes from the certificate (e-mail, DNS and URI SANs,
            // then the subject DN); a user named in CONNECT is ignored.
            let cert = p.peer_cert.ok_or(AuthError::NoClientCertificate)?;
            let candidates = users
                .users
                .iter()
                .filter(|(_, u)| allows_standard(&u.connection_types))
                .map(|(name, _)| name.as_str());
            let name = crate::tls::map_user(cert, candidates).ok_or_else(|| {
                AuthError::UnmappedCertificate {
                    subject: cert.subject.clone(),
                }
            })?;
            return user_identity(&users.users[name]);
        }
        if no_credentials {
            if let Some(name) = &self.no_auth_user {
                if let Some(u) = users.users.get(name) {
                    return user_identity(u);
                }
                if let Some(u) = users.nkeys.get(name) {
                    return nkey_identity(u);
                }
            }
            return Err(AuthError::NoCredentials);
        }
        let name = c.user.as_deref().unwrap_or("");
        let u = users
            .users
            .get(name)
            .ok_or_else(|| AuthError::UnknownUser {
                name: name.to_owned(),
            })?;
        let Some(expected) = &u.password else {
            return Err(AuthError::CertificateOnly {
                name: name.to_owned(),
            });
        };
        if !secret_matches(expected, c.pass.clone().unwrap_or_default()).await {
            return Err(AuthError::InvalidPassword {
                name: name.to_owned(),
            });
        }
        user_identity(u)
    }
}

/// Adds the users of every account in the `accounts` block to `users`, bound
/// to their account, with the account's `default_permissions`. Returns the
/// position of the first users list, if any.
fn users_of_accounts(
    opts: &Options,
    users: &mut Users,
) -> Result<Option<crate::config::Pos>, ConfigError> {
    let Some(block) = &opts.accounts_block else {
        return Ok(None);
    };
    let mut first = None;
    for (name, def) in block.iter() {
        let Kind::Map(def) = &def.kind else {
            continue;
        };
        let key = format!("accounts.{}", name.name);
        let defaults = match def.get("default_permissions") {
            Some(v) => Some(permissions::parse(
                v,
                &format!("{key}.default_permissions"),
            )?),
            None => None,
        };
        for (k, v) in def.iter() {
            if !k.name.eq_ignore_ascii_case("users") {
                continue;
            }
            first.get_or_insert_with(|| k.pos.clone());
            let key = format!("{key}.users");
            let parsed = users::parse_users(v, &key, Some(&name.name), defaults.as_ref())?;
            users
                .merge(parsed)
                .map_err(|e| ConfigError::at(&k.pos, &key, e.to_string()))?;
        }
    }
    Ok(first)
}

fn allows_standard(types: &Option<Vec<String>>) -> bool {
    types
        .as_ref()
        .is_none_or(|t| t.iter().any(|t| t == "STANDARD"))
}

fn user_identity(u: &User) -> Result<Identity, AuthError> {
    if !allows_standard(&u.connection_types) {
        return Err(AuthError::UserConnectionType {
            name: u.name.clone(),
        });
    }
    Ok(Identity {
        name: u.name.clone(),
        account: u.account.clone(),
        permissions: u.permissions.clone(),
        rate: u.rate,
    })
}

fn nkey_identity(u: &NkeyUser) -> Result<Identity, AuthError> {
    if !allows_standard(&u.connection_types) {
        return Err(AuthError::NkeyConnectionType {
            nkey: u.nkey.clone(),
        });
    }
    Ok(Identity {
        name: u.nkey.clone(),
        account: u.account.clone(),
        permissions: u.permissions.clone(),
        rate: u.rate,
    })
}

/// True for a bcrypt hash as nats-server recognises them (`$2a$`, `$2b$`,
/// `$2x$`, `$2y$` followed by a two-digit cost).
pub fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 7
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Bounds concurrent bcrypt checks to all cores but one, so a burst of
/// logins (each check burns tens of milliseconds of CPU) queues up instead
/// of starving the tasks that move messages for connected clients.
fn bcrypt_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

/// Compares a configured secret (plain or bcrypt) with what the client sent:
/// plain text in constant time, bcrypt on the blocking pool.
pub async fn secret_matches(expected: &str, given: String) -> bool {
    if is_bcrypt(expected) {
        let hash = expected.to_owned();
        let Ok(_slot) = bcrypt_slots().acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || bcrypt::verify(given, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    } else {
        crate::nkeys::ct_eq(expected.as_bytes(), given.as_bytes())
    }
}

/// A fresh nonce for INFO: 11 random bytes, base64url without padding
/// (15 characters), as nats-server makes them.
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 11];
    rand::thread_rng().fill_bytes(&mut b);
    data_encoding::BASE64URL_NOPAD.encode(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(src: &str) -> Result<AuthConfig, ConfigError> {
        let parsed = crate::config::parser::parse_str_tracked(src, Path::new("a.conf")).unwrap();
        let (opts, _) = Options::from_parsed(&parsed, Some(Path::new("a.conf")))?;
        AuthConfig::from_options(&opts)
    }

    fn connect(json: &str) -> Connect {
        Connect::parse(json.as_bytes()).unwrap()
    }

    async fn login(cfg: &AuthConfig, json: &str) -> Result<Identity, AuthError> {
        cfg.authenticate(&connect(json), Presented::default()).await
    }

    #[tokio::test]
    async fn token_and_single_user() {
        let t = config("authorization { token: s3cr3t }").unwrap();
        assert!(t.info_auth_required() && !t.needs_nonce());
        assert!(login(&t, r#"{"auth_token":"s3cr3t"}"#).await.is_ok());
        assert_eq!(
            login(&t, r#"{"auth_token":"nope"}"#).await.unwrap_err(),
            AuthError::InvalidToken
        );
        assert!(login(&t, r#"{"user":"s3cr3t"}"#).await.is_err());
        let u = config("authorization { user: a, password: b }").unwrap();
        assert_eq!(
            login(&u, r#"{"user":"a","pass":"b"}"#).await.unwrap().name,
            "a"
        );
        assert_eq!(
            login(&u, r#"{"user":"a","pass":"c"}"#)
                .await
                .unwrap_err()
                .to_string(),
            "invalid user/password for \"a\""
        );
        assert!(login(&u, r#"{"user":"a"}"#).await.is_err());
    }

    #[tokio::test]
    async fn users_list_with_bcrypt_and_permissions() {
        let hash = bcrypt::hash("bobpw", 4).unwrap();
        let cfg = config(&format!(
            "authorization {{ default_permissions: {{ publish: \"pub.>\" }}\n users: [ {{user: alice, password: apw, permissions: {{ subscribe: \"a.>\" }} }}, {{user: bob, password: \"{hash}\"}} ] }}"
        ))
        .unwrap();
        let alice = login(&cfg, r#"{"user":"alice","pass":"apw"}"#)
            .await
            .unwrap();
        assert!(alice.permissions.unwrap().publish.is_none());
        let bob = login(&cfg, r#"{"user":"bob","pass":"bobpw"}"#)
            .await
            .unwrap();
        assert!(!bob.permissions.unwrap().can_publish("x"));
        assert!(login(&cfg, &format!(r#"{{"user":"bob","pass":"{hash}"}}"#))
            .await
            .is_err());
        assert_eq!(
            login(&cfg, r#"{"user":"mallory","pass":"apw"}"#)
                .await
                .unwrap_err()
                .to_string(),
            "unknown user \"mallory\""
        );
        assert_eq!(
            login(&cfg, "{}").await.unwrap_err(),
            AuthError::NoCredentials
        );
    }

    #[tokio::test]
    async fn nkey_users_sign_the_nonce() {
        let kp = crate::nkeys::KeyPair::new(crate::nkeys::KeyKind::User);
        let pk = kp.public_key();
        let cfg = config(&format!("authorization {{ users: [ {{ nkey: {pk} }} ] }}")).unwrap();
        assert!(cfg.needs_nonce());
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        let sig = crate::nkeys::sign_nonce(&kp, nonce.as_bytes()).unwrap();
        let c = connect(&format!(r#"{{"nkey":"{pk}","sig":"{sig}"}}"#));
        let p = Presented {
            nonce: nonce.as_bytes(),
            peer_cert: None,
        };
        assert_eq!(cfg.authenticate(&c, p).await.unwrap().name, pk);
        let other = Presented {
            nonce: b"other",
            peer_cert: None,
        };
        assert!(matches!(
            cfg.authenticate(&c, other).await,
            Err(AuthError::BadSignature(_))
        ));
        assert_eq!(
            login(&cfg, &format!(r#"{{"nkey":"{pk}"}}"#))
                .await
                .unwrap_err()
                .to_string(),
            "nkey without signature"
        );
    }

    #[tokio::test]
    async fn no_auth_user_and_certificates() {
        let cfg = config("authorization { users: [ {user: guest, password: g}, {user: admin, password: a} ] }\nno_auth_user: guest").unwrap();
        assert!(cfg.enabled() && !cfg.info_auth_required());
        assert_eq!(login(&cfg, "{}").await.unwrap().name, "guest");
        assert!(login(&cfg, r#"{"user":"admin","pass":"x"}"#).await.is_err());
        assert_eq!(
            login(&cfg, r#"{"user":"admin","pass":"a"}"#)
                .await
                .unwrap()
                .name,
            "admin"
        );
        let e = config("authorization { users: [ {user: a, password: b} ] }\nno_auth_user: nobody")
            .unwrap_err();
        assert!(
            e.to_string().contains("a.conf:2:") && e.to_string().contains("nobody"),
            "{e}"
        );

        let mut mapped = config(
            "authorization { users: [ {user: \"CN=alice,O=NATS Conformance\"}, {user: bob@example.com} ] }",
        )
        .unwrap();
        mapped.verify_and_map = true;
        use rustls::pki_types::pem::PemObject;
        let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/certs/client-bob.pem");
        let der = rustls::pki_types::CertificateDer::from_pem_file(pem).unwrap();
        let cert = crate::tls::PeerCert::from_der(&der).unwrap();
        let p = Presented {
            nonce: b"",
            peer_cert: Some(&cert),
        };
        // The certificate decides; the user named in CONNECT is ignored.
        let id = mapped
            .authenticate(&connect(r#"{"user":"CN=alice,O=NATS Conformance"}"#), p)
            .await
            .unwrap();
        assert_eq!(id.name, "bob@example.com");
        assert!(mapped
            .authenticate(&connect("{}"), Presented::default())
            .await
            .is_err());
    }

    #[test]
    fn config_errors() {
        assert!(config("authorization { users: [ {nkey: NOTAKEY} ] }").is_err());
        assert!(config("authorization { users: [ {user: a}, {user: a} ] }").is_err());
        assert!(config("authorization { token: t, users: [ {user: a} ] }").is_err());
        assert!(config("authorization { users: [ {user: a, bogus: 1} ] }").is_err());
        assert!(config(
            "authorization { users: [ {user: a, allowed_connection_types: [\"NOPE\"]} ] }"
        )
        .is_err());
        // The same user in `authorization` and in an account.
        let e = config(
            "authorization { users: [ {user: a, password: x} ] }\naccounts { A { users: [ {user: a, password: y} ] } }",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .ends_with(":2:16: Duplicate user \"a\" detected"),
            "{e}"
        );
    }

    #[test]
    fn bcrypt_detection() {
        assert!(is_bcrypt("$2a$11$abcdefghijklmnopqrstuv"));
        assert!(is_bcrypt("$2y$06$x"));
        assert!(!is_bcrypt("$2a$x"));
        assert!(!is_bcrypt("plain"));
    }
}
