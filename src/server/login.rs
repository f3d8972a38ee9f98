//! The login pipeline: the one place that decides who a connection is, which
//! account it runs in and what it may do.
//!
//! Every way in goes through [`Authenticator::authenticate`]: a client's
//! CONNECT, a config reload re-checking the live connections, and an
//! account claims update re-checking the users of that account. Config users
//! (token, user/password, bcrypt, nkey, certificate mapping, `no_auth_user`)
//! and operator-mode JWT users (creds, bearer, signing keys, scopes, source
//! networks, time windows, connection types) are two implementations behind
//! one enum, and both answer with one [`Login`] value or one typed
//! [`LoginError`], which alone knows the text the client hears and the close
//! reason monitoring shows.
//!
//! Why a login failed goes to the server log, never to the client.

use std::net::IpAddr;
use std::sync::Arc;

use super::client::ClientShared;
use super::close::CloseReason;
use super::Server;
use crate::auth::{AuthConfig, Permissions, Presented};
use crate::protocol::messages::Connect;
use crate::tenancy::account::{Account, Registry};
use crate::tenancy::jwt_account;
use crate::tenancy::operator::OperatorMode;

/// What a connection presented when it logged in, kept so that reload and
/// claim updates can check it again through the same pipeline.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub connect: Connect,
    /// The nonce sent in INFO, signed by nkey and JWT users.
    pub nonce: Option<String>,
}

impl Credentials {
    /// Whether the CONNECT names anyone: user, password, token, nkey,
    /// signature or JWT.
    pub fn names_anyone(c: &Connect) -> bool {
        [&c.user, &c.pass, &c.auth_token, &c.nkey, &c.sig, &c.jwt]
            .iter()
            .any(|f| f.as_deref().is_some_and(|s| !s.is_empty()))
    }

    /// Who the CONNECT claims to be, as nats-server names it in advisories
    /// (also for a refused login): the nkey, the user name, or `[REDACTED]`
    /// for a token. A JWT user is named by its key only once admitted.
    pub fn claimed_user(c: &Connect) -> String {
        let given = |f: &Option<String>| f.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        given(&c.nkey)
            .or_else(|| given(&c.user))
            .or_else(|| given(&c.auth_token).map(|_| "[REDACTED]".to_owned()))
            .unwrap_or_default()
    }
}

/// Everything the pipeline looks at besides the CONNECT.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub nonce: &'a [u8],
    pub cert: Option<&'a crate::tls::PeerCert>,
    pub ip: IpAddr,
}

/// An admitted connection: who it is, its account, what it may do.
#[derive(Debug, Clone)]
pub struct Login {
    /// User name, nkey or user public key ("" when anonymous).
    pub name: String,
    pub account: Arc<Account>,
    pub permissions: Option<Arc<Permissions>>,
    /// When the user's credentials expire (unix seconds).
    pub expires: Option<i64>,
    /// The user's own payload limit (negative = none beyond the account's;
    /// 0 allows only empty payloads, as nats-server reads a JWT without
    /// `payload`).
    pub max_payload: i64,
    /// The user's own subscription limit (negative = none beyond the
    /// account's; 0 allows none).
    pub max_subs: i64,
    /// The user's rate quota, shared by all its connections.
    pub rate: Option<crate::quota::RateLimit>,
}

/// Why a login (or a re-check of one) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Credentials missing, wrong, or not allowed for this connection.
    #[error("{0}")]
    Refused(String),
    /// The user was revoked, or its signing key removed from the account.
    #[error("revoked: {0}")]
    Revoked(String),
    /// The user's credentials have expired.
    #[error("expired: {0}")]
    Expired(String),
    /// The account's JWT has expired.
    #[error("account expired: {0}")]
    AccountExpired(String),
}

/// Whether a refusal ends a first login or a login already in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Recheck,
}

impl LoginError {
    /// The `-ERR` text and close reason for this refusal. A first login
    /// only ever hears `Authorization Violation`; a user cut later learns
    /// whether it was revoked or expired, as nats-server tells it.
    pub fn outcome(&self, phase: Phase) -> (&'static str, CloseReason) {
        match (self, phase) {
            (LoginError::Revoked(_), Phase::Recheck) => (
                "User Authentication Revoked",
                CloseReason::AuthenticationRevoked,
            ),
            (LoginError::Expired(_), Phase::Recheck) => (
                "User Authentication Expired",
                CloseReason::AuthenticationExpired,
            ),
            (LoginError::AccountExpired(_), Phase::Recheck) => (
                "Account Authentication Expired",
                CloseReason::AuthenticationExpired,
            ),
            _ => (
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            ),
        }
    }
}

impl From<String> for LoginError {
    fn from(s: String) -> Self {
        LoginError::Refused(s)
    }
}

impl From<crate::auth::AuthError> for LoginError {
    fn from(e: crate::auth::AuthError) -> Self {
        LoginError::Refused(e.to_string())
    }
}

impl From<&str> for LoginError {
    fn from(s: &str) -> Self {
        LoginError::Refused(s.to_owned())
    }
}

/// How connections authenticate: the config's users, or trusted operators
/// and the accounts their resolver serves. Replaced as a whole on reload.
#[derive(Clone)]
pub enum Authenticator {
    Config(Arc<AuthConfig>),
    Operator(Arc<OperatorMode>),
}

impl Authenticator {
    /// Checks `c` and admits it into its account.
    ///
    /// # Errors
    /// Why the connection is refused; see [`LoginError::outcome`].
    pub async fn authenticate(
        &self,
        accounts: &Registry,
        c: &Connect,
        peer: Peer<'_>,
    ) -> Result<Login, LoginError> {
        match self {
            Authenticator::Config(auth) => {
                let presented = Presented {
                    nonce: peer.nonce,
                    peer_cert: peer.cert,
                };
                let id = auth.authenticate(c, presented).await?;
                let account = match &id.account {
                    None => accounts.global(),
                    Some(name) => accounts
                        .get(name)
                        .ok_or_else(|| format!("account {name:?} not found"))?,
                };
                Ok(Login {
                    name: id.name,
                    account,
                    permissions: id.permissions,
                    expires: None,
                    max_payload: crate::tenancy::account::NO_LIMIT,
                    max_subs: crate::tenancy::account::NO_LIMIT,
                    rate: id.rate,
                })
            }
            Authenticator::Operator(op) => {
                load_account_of(accounts, op, c).await;
                jwt_account::login(accounts, op, c, peer.nonce, peer.ip)
            }
        }
    }
}

/// Makes sure the account named by the CONNECT's user JWT is loaded,
/// fetching it (and the exporters it imports from) from the resolver when
/// needed. Only reads where to look; [`jwt_account::login`] checks every
/// claim afterwards.
async fn load_account_of(accounts: &Registry, op: &Arc<OperatorMode>, c: &Connect) {
    let Some(token) = c.jwt.as_deref() else {
        return;
    };
    let Ok((_, payload)) = crate::jwt::decode_unverified(token) else {
        return;
    };
    let nats_issuer = payload
        .get("nats")
        .and_then(|n| n.get("issuer_account"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());
    let Some(acc) = nats_issuer.or_else(|| payload.get("iss").and_then(|v| v.as_str())) else {
        return;
    };
    if accounts.get(acc).is_some_and(|a| a.claims.read().is_some()) {
        return;
    }
    match op.fetch_claims(acc).await {
        Ok(claims) => {
            for imp in &claims.nats.imports {
                if accounts.get(&imp.account).is_none() {
                    if let Ok(ex) = op.fetch_claims(&imp.account).await {
                        jwt_account::apply_claims(accounts, op, &ex);
                    }
                }
            }
            jwt_account::apply_claims(accounts, op, &claims);
        }
        Err(e) => log::debug!("account {acc}: {e}"),
    }
}

/// Checks a live connection again through the pipeline that admitted it,
/// with the credentials it logged in with (after a reload or a claims
/// update). A refused connection, or one the pipeline would now put in
/// another account, is closed; one still admitted gets its new permissions
/// and payload limit at once. Returns whether it stays.
pub async fn recheck(server: &Server, c: &Arc<ClientShared>) -> bool {
    let Some(cred) = c.credentials.lock().clone() else {
        return true; // Not logged in yet: its CONNECT meets the new rules.
    };
    if !server.auth_enabled_for(c.websocket) {
        c.meta.lock().user.clear();
        adopt_permissions(c, "", None);
        return true;
    }
    let peer = Peer {
        nonce: cred.nonce.as_deref().unwrap_or("").as_bytes(),
        cert: c.peer_cert.as_ref(),
        ip: c.addr.ip(),
    };
    let current = c.account.read().clone();
    let result = server
        .authenticator_for(c.websocket)
        .authenticate(&server.accounts, &cred.connect, peer)
        .await
        .and_then(|login| {
            if Arc::ptr_eq(&login.account, &current) {
                Ok(login)
            } else {
                Err(LoginError::Refused(format!(
                    "would move from account {} to {}",
                    current.name, login.account.name
                )))
            }
        });
    match result {
        Ok(login) => {
            c.meta.lock().user.clone_from(&login.name);
            adopt_permissions(c, &login.name, login.permissions);
            let account_max = current.limits().max_payload;
            c.set_payload_limit(crate::tenancy::account::min_limit(
                account_max,
                login.max_payload,
            ));
            c.set_user_quota(current.user_quota(&login.name, login.rate));
            true
        }
        Err(e) => {
            let (text, reason) = e.outcome(Phase::Recheck);
            log::info!("{} - cid:{} - {text}: {e}", c.addr, c.id);
            c.close_with_error(text, reason);
            false
        }
    }
}

/// Gives a live connection new permissions: delivery filtering changes at
/// once, and subscriptions they no longer allow are removed and reported to
/// the client as nats-server reports them.
pub fn adopt_permissions(c: &ClientShared, name: &str, perms: Option<Arc<Permissions>>) {
    let current = c.delivery.read().clone();
    if current != perms {
        c.replace_permissions(perms.clone());
    }
    let Some(perms) = &perms else {
        return;
    };
    let user = if name.is_empty() {
        format!("cid:{}", c.id)
    } else {
        format!("\"{name}\"")
    };
    for sub in c.remove_disallowed_subs(perms) {
        let sid = String::from_utf8_lossy(&sub.sid);
        match &sub.queue {
            Some(q) => {
                c.send_err(&format!(
                    "Permissions Violation for Subscription to \"{}\" using queue \"{q}\" (sid \"{sid}\")",
                    sub.subject
                ));
                log::info!(
                    "Removed sub \"{}\" using queue \"{q}\" (sid \"{sid}\") for {user} - not authorized",
                    sub.subject
                );
            }
            None => {
                c.send_err(&format!(
                    "Permissions Violation for Subscription to \"{}\" (sid \"{sid}\")",
                    sub.subject
                ));
                log::info!(
                    "Removed sub \"{}\" (sid \"{sid}\") for {user} - not authorized",
                    sub.subject
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_logins_only_hear_authorization_violation() {
        for e in [
            LoginError::Refused("x".into()),
            LoginError::Revoked("x".into()),
            LoginError::Expired("x".into()),
        ] {
            assert_eq!(
                e.outcome(Phase::Connect),
                (
                    "Authorization Violation",
                    CloseReason::AuthenticationViolation
                )
            );
        }
        assert_eq!(
            LoginError::Revoked("x".into()).outcome(Phase::Recheck).1,
            CloseReason::AuthenticationRevoked
        );
        assert_eq!(
            LoginError::Refused("x".into()).outcome(Phase::Recheck).0,
            "Authorization Violation"
        );
    }

    #[test]
    fn credentials_are_recognised_in_any_field() {
        let c = |j: &str| Connect::parse(j.as_bytes()).unwrap();
        assert!(!Credentials::names_anyone(&c(r#"{"verbose":false}"#)));
        assert!(!Credentials::names_anyone(&c(r#"{"user":""}"#)));
        for j in [
            r#"{"user":"a"}"#,
            r#"{"pass":"a"}"#,
            r#"{"auth_token":"a"}"#,
            r#"{"nkey":"a"}"#,
            r#"{"sig":"a"}"#,
            r#"{"jwt":"a"}"#,
        ] {
            assert!(Credentials::names_anyone(&c(j)), "{j}");
        }
    }
}
