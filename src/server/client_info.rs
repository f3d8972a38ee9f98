//! nats-server's `ClientInfo`: how a connection is described to others in
//! `$SYS` advisories, service latency reports and the `Nats-Request-Info`
//! header of requests crossing a service import. Field names, order and
//! omissions follow nats-server 2.15.1, so dashboards and services written
//! against it read rnats' unchanged.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

use super::client::ClientShared;
use crate::monitor::format::rfc3339;

/// One connection as nats-server describes it; empty fields are left out.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u64,
    #[serde(rename = "acc", skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(rename = "ver", skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a JWT login says about the user, for `issuer_key`, `tags` and the
/// user's `name_tag`.
struct JwtUser {
    jwt: String,
    issuer: String,
    name: String,
    tags: Vec<String>,
}

fn jwt_user(c: &ClientShared) -> Option<JwtUser> {
    let jwt = c.meta.lock().jwt.clone();
    if jwt.is_empty() {
        return None;
    }
    let claims = crate::jwt::decode_user(&jwt).ok();
    Some(JwtUser {
        issuer: claims.as_ref().map(|u| u.iss.clone()).unwrap_or_default(),
        name: claims.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
        tags: claims.map(|u| u.nats.generic.tags).unwrap_or_default(),
        jwt,
    })
}

impl ClientInfo {
    /// What is always shared: the account and the round-trip time (a
    /// requestor that does not `share`, the `Nats-Request-Info` header).
    pub fn brief(c: &ClientShared) -> ClientInfo {
        ClientInfo {
            account: c.account.read().name.to_string(),
            rtt: c.rtt().as_nanos() as u64,
            ..ClientInfo::default()
        }
    }

    /// The details shared with a service (latency reports, shared request
    /// info): with the server's name, and the user JWT's name as `name_tag`.
    pub fn detailed(c: &ClientShared, server_name: &str) -> ClientInfo {
        let mut ci = ClientInfo::described(c);
        ci.rtt = c.rtt().as_nanos() as u64;
        ci.server = server_name.to_owned();
        if let Some(u) = jwt_user(c) {
            ci.jwt = u.jwt;
            ci.issuer_key = u.issuer;
            ci.name_tag = u.name;
            ci.tags = u.tags;
        }
        ci
    }

    /// The `client` of account advisories: the account's name as
    /// `name_tag`; `stop` and the round-trip time once the connection ended
    /// (disconnects, failed logins).
    pub fn event(c: &ClientShared, name_tag: &str, stop: Option<SystemTime>) -> ClientInfo {
        let mut ci = ClientInfo::described(c);
        if let Some(t) = stop {
            ci.stop = Some(rfc3339(t));
            ci.rtt = c.rtt().as_nanos() as u64;
        }
        ci.name_tag = name_tag.to_owned();
        if let Some(u) = jwt_user(c) {
            ci.jwt = u.jwt;
            // The issuer is known once the login was accepted.
            if c.credentials.lock().is_some() {
                ci.issuer_key = u.issuer;
            }
            ci.tags = u.tags;
        }
        ci
    }

    /// The fields every detailed form has.
    fn described(c: &ClientShared) -> ClientInfo {
        let meta = c.meta.lock().clone();
        ClientInfo {
            start: Some(rfc3339(c.start)),
            host: c.addr.ip().to_string(),
            id: c.id,
            account: c.account.read().name.to_string(),
            user: meta.user,
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            kind: "Client".into(),
            client_type: "nats".into(),
            ..ClientInfo::default()
        }
    }
}

/// nats-server's 8-character hash of a server name (`getHash`): the
/// server's token in tracked reply subjects and server-targeted subjects.
pub fn server_hash(name: &str) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    Sha256::digest(name.as_bytes())[..8]
        .iter()
        .map(|b| DIGITS[(*b % 62) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out_in_nats_server_order() {
        let ci = ClientInfo {
            account: "A".into(),
            rtt: 5,
            name: "n".into(),
            kind: "Client".into(),
            ..ClientInfo::default()
        };
        assert_eq!(
            serde_json::to_string(&ci).unwrap(),
            r#"{"acc":"A","name":"n","rtt":5,"kind":"Client"}"#
        );
    }

    #[test]
    fn server_hash_is_eight_base62_characters() {
        let h = server_hash("n1");
        assert_eq!(h.len(), 8);
        assert!(h.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(h, server_hash("n1"));
        assert_ne!(h, server_hash("n2"));
    }
}
