//! The JSON of a route's INFO and CONNECT, with nats-server's field names
//! and omissions (a peer keys on presence: no `route_pool_size` means "no
//! pooling", no `compression` means "cannot compress").

use serde::{Deserialize, Serialize};

/// Route permissions as advertised in INFO (`import`/`export`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubjectLists {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// A route INFO, sent when a route is set up, and forwarded (with `ip`)
/// to tell the other members about a new server (gossip).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteInfo {
    pub server_id: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub proto: i32,
    #[serde(default)]
    pub go: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub headers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(default)]
    pub max_payload: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectLists>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectLists>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnoc: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnocu: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub route_pool_size: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub route_pool_idx: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route_acc_add_reqid: String,
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub gossip_mode: u8,
}

/// The CONNECT a soliciting server sends on a route.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteConnect {
    #[serde(default)]
    pub echo: bool,
    #[serde(default)]
    pub verbose: bool,
    #[serde(default)]
    pub pedantic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, rename = "pass", skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(default)]
    pub tls_required: bool,
    #[serde(default)]
    pub headers: bool,
    /// The soliciting server's id.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnoc: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnocu: bool,
    /// Present only in a client's CONNECT: how a client that dialed the
    /// route port is recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Present only in a gateway's CONNECT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// `INFO <json>\r\n`.
pub fn info_line(info: &RouteInfo) -> Vec<u8> {
    let mut line = b"INFO ".to_vec();
    serde_json::to_writer(&mut line, info).expect("route INFO serializes");
    line.extend_from_slice(b"\r\n");
    line
}

/// `CONNECT <json>\r\n`.
pub fn connect_line(c: &RouteConnect) -> Vec<u8> {
    let mut line = b"CONNECT ".to_vec();
    serde_json::to_writer(&mut line, c).expect("route CONNECT serializes");
    line.extend_from_slice(b"\r\n");
    line
}

/// nats-server's pool slot of an account: FNV-1a 32 of the name modulo the
/// pool size (the same on every server with the same pool size).
pub fn pool_index(pool_size: usize, account: &str) -> usize {
    if pool_size <= 1 {
        return 0;
    }
    let mut h: u32 = 0x811c_9dc5;
    for &b in account.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % pool_size as u32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_index_is_fnv1a_modulo_the_pool() {
        // FNV-1a 32: "$G" = 0x7abc619c, "HOT" = 0x819e23b4 (Go's hash/fnv).
        assert_eq!(pool_index(3, "$G"), 0x7abc_619c % 3);
        assert_eq!(pool_index(3, "$G"), 2);
        assert_eq!(pool_index(3, "HOT"), 1);
        assert_eq!(pool_index(1, "anything"), 0);
        assert_eq!(pool_index(0, "anything"), 0);
    }

    #[test]
    fn info_omits_pool_fields_when_unset() {
        let i = RouteInfo {
            server_id: "S".into(),
            ..RouteInfo::default()
        };
        let line = String::from_utf8(info_line(&i)).unwrap();
        assert!(!line.contains("route_pool_size"));
        assert!(!line.contains("compression"));
        assert!(line.ends_with("}\r\n"));
    }
}
