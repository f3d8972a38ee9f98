//! Single-user and token authorization from `authorization { user, password,
//! token }` or the `--user/--pass/--auth` flags.
//!
//! Secrets are compared in constant time, and bcrypt hashes (`$2a$`, `$2b$`,
//! `$2x$`, `$2y$`) are verified on the blocking pool because one check takes
//! tens of milliseconds and must not stall other connections.

use subtle::ConstantTimeEq;

use crate::config::Options;
use crate::protocol::messages::Connect;

/// The configured simple authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimpleAuth {
    None,
    Token(String),
    User { user: String, password: String },
}

impl SimpleAuth {
    pub fn from_options(opts: &Options) -> Self {
        if let Some(token) = &opts.authorization {
            return SimpleAuth::Token(token.clone());
        }
        match (&opts.username, &opts.password) {
            (Some(u), p) => SimpleAuth::User {
                user: u.clone(),
                password: p.clone().unwrap_or_default(),
            },
            _ => SimpleAuth::None,
        }
    }

    pub fn required(&self) -> bool {
        !matches!(self, SimpleAuth::None)
    }

    /// Checks CONNECT credentials. Returns the user name on success ("" for
    /// a token).
    pub async fn check(&self, c: &Connect) -> Option<String> {
        match self {
            SimpleAuth::None => Some(String::new()),
            SimpleAuth::Token(expected) => {
                let given = c.auth_token.clone()?;
                secret_matches(expected, given).await.then(String::new)
            }
            SimpleAuth::User { user, password } => {
                let given_user = c.user.as_deref()?;
                let user_ok: bool = given_user.as_bytes().ct_eq(user.as_bytes()).into();
                let pass = c.pass.clone().unwrap_or_default();
                let pass_ok = secret_matches(password, pass).await;
                (user_ok && pass_ok).then(|| user.clone())
            }
        }
    }
}

/// True for a bcrypt hash as nats-server recognises them.
pub fn is_bcrypt(s: &str) -> bool {
    s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2x$") || s.starts_with("$2y$")
}

/// Compares a configured secret (plain or bcrypt) with what the client sent.
pub async fn secret_matches(expected: &str, given: String) -> bool {
    if is_bcrypt(expected) {
        let hash = expected.to_owned();
        tokio::task::spawn_blocking(move || bcrypt::verify(given, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    } else {
        expected.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(json: &str) -> Connect {
        Connect::parse(json.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn token_and_user() {
        let t = SimpleAuth::Token("s3cr3t".into());
        assert!(t
            .check(&connect(r#"{"auth_token":"s3cr3t"}"#))
            .await
            .is_some());
        assert!(t
            .check(&connect(r#"{"auth_token":"nope"}"#))
            .await
            .is_none());
        assert!(t.check(&connect("{}")).await.is_none());
        let u = SimpleAuth::User {
            user: "a".into(),
            password: "b".into(),
        };
        assert_eq!(
            u.check(&connect(r#"{"user":"a","pass":"b"}"#)).await,
            Some("a".into())
        );
        assert!(u
            .check(&connect(r#"{"user":"a","pass":"c"}"#))
            .await
            .is_none());
    }

    #[tokio::test]
    async fn bcrypt_password() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        assert!(secret_matches(&hash, "pw".into()).await);
        assert!(!secret_matches(&hash, "px".into()).await);
    }
}
