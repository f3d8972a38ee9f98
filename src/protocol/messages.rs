//! JSON bodies of INFO (server to client) and CONNECT (client to server).

use serde::{Deserialize, Serialize};

/// The INFO a server sends. Optional fields are left out when empty or
/// false, as nats-server's `omitempty` does, because clients key on presence
/// (e.g. `nonce`, `auth_required`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Info {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: i32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Info {
    /// `INFO <json> \r\n`, with the space before CRLF the reference writes.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing a struct of strings, numbers and bools cannot fail.
        serde_json::to_writer(&mut line, self).expect("INFO serializes");
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// The CONNECT options a client sends. Defaults are nats-server's: a client
/// that leaves a field out gets `verbose`, `pedantic` and `echo` on.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct Connect {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub auth_token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: i64,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    /// Obsolete; present means refusal (`Authorization Violation`).
    pub account: Option<serde_json::Value>,
    pub new_account: Option<serde_json::Value>,
}

impl Default for Connect {
    fn default() -> Self {
        Connect {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            nkey: None,
            sig: None,
            jwt: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            account: None,
            new_account: None,
        }
    }
}

impl Connect {
    /// Parses a CONNECT body. `None` for anything that is not a JSON object
    /// of the expected shape (nats-server closes such connections).
    pub fn parse(json: &[u8]) -> Option<Connect> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults() {
        let c = Connect::parse(b"{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo && !c.headers);
        let c = Connect::parse(br#"{"verbose":false,"x":1,"headers":true}"#).unwrap();
        assert!(!c.verbose && c.headers);
        assert!(Connect::parse(b"{bad").is_none());
    }

    #[test]
    fn info_leaves_out_empty_fields() {
        let line = Info {
            server_id: "N".into(),
            ..Default::default()
        }
        .to_line();
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("INFO {") && s.ends_with("} \r\n"));
        assert!(!s.contains("nonce") && !s.contains("auth_required"));
        assert!(s.contains("\"headers\":false"));
    }
}
