//! Types shared by several claim bodies: permissions, limits, time ranges,
//! the `type`/`version`/`tags` trio and descriptions.
//!
//! Field names, JSON shapes and which fields are omitted when empty follow
//! nats-io/jwt v2 (`types.go`, `user_claims.go`, `account_claims.go`).

use serde::{Deserialize, Deserializer, Serialize};

use super::serde_util::{is_false, is_zero_i64, nullable};

/// `-1`: no limit. Any negative value means unlimited to nats-server.
pub const NO_LIMIT: i64 = -1;

/// Connection types a user may be limited to (`allowed_connection_types`).
pub mod connection_type {
    /// Plain NATS client protocol.
    pub const STANDARD: &str = "STANDARD";
    /// NATS over websocket.
    pub const WEBSOCKET: &str = "WEBSOCKET";
    /// Leafnode connection.
    pub const LEAFNODE: &str = "LEAFNODE";
    /// Leafnode over websocket.
    pub const LEAFNODE_WS: &str = "LEAFNODE_WS";
    /// MQTT client.
    pub const MQTT: &str = "MQTT";
    /// MQTT over websocket.
    pub const MQTT_WS: &str = "MQTT_WS";
    /// In-process connection (embedded server).
    pub const IN_PROCESS: &str = "IN_PROCESS";
    /// All of them.
    pub const ALL: [&str; 7] = [
        STANDARD,
        WEBSOCKET,
        LEAFNODE,
        LEAFNODE_WS,
        MQTT,
        MQTT_WS,
        IN_PROCESS,
    ];
}

/// `type`, `version` and `tags`, present in every v2 `nats` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericFields {
    /// Free-form lower-case tags.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// Claim type (`operator`, `account`, `user`, `activation`, ...).
    #[serde(
        rename = "type",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub claim_type: String,
    /// Claim format version: 2 for tokens written by v2 libraries.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub version: i64,
}

impl GenericFields {
    /// Adds a tag the way nats' `TagList.Add` does: trimmed, lower-cased,
    /// without duplicates or empty strings.
    pub fn add_tag(&mut self, tag: &str) {
        let t = tag.trim().to_lowercase();
        if !t.is_empty() && !self.tags.contains(&t) {
            self.tags.push(t);
        }
    }

    /// Removes a tag (compared lower-cased).
    pub fn remove_tag(&mut self, tag: &str) {
        let t = tag.trim().to_lowercase();
        self.tags.retain(|x| *x != t);
    }
}

/// Description and link of an account or export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Human description.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// Link to more information.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub info_url: String,
}

/// Allow and deny subject lists. Subscribe entries may be `"subject queue"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// When present (even empty), only matching subjects are allowed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow: Vec<String>,
    /// Subjects refused; deny wins over allow.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deny: Vec<String>,
}

impl Permission {
    /// True when neither list has entries.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// Permission to publish to reply subjects of received requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePermission {
    /// Responses allowed per request (negative: unlimited).
    #[serde(rename = "max", default, deserialize_with = "nullable")]
    pub max_msgs: i64,
    /// How long the permission lasts, in nanoseconds (0: no limit).
    #[serde(rename = "ttl", default, deserialize_with = "nullable")]
    pub expires_ns: i64,
}

/// Publish, subscribe and response permissions (user JWTs, account
/// `default_permissions`, scope templates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Publish permissions. Always written (as `{}` when empty), as Go does.
    #[serde(rename = "pub", default, deserialize_with = "nullable")]
    pub publish: Permission,
    /// Subscribe permissions. Always written.
    #[serde(rename = "sub", default, deserialize_with = "nullable")]
    pub subscribe: Permission,
    /// Response permission, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    /// True when no permission is set at all.
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.subscribe.is_empty() && self.resp.is_none()
    }
}

/// A daily window (`HH:MM:SS`) in which a user may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Start, `HH:MM:SS`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub start: String,
    /// End, `HH:MM:SS`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub end: String,
}

/// Parses `HH:MM:SS` into seconds after midnight.
pub fn parse_time_of_day(s: &str) -> Option<u32> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    let sec: u32 = sec.parse().ok()?;
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// Subscriptions, data and payload limits (`-1`: unlimited; absent: 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsLimits {
    /// Maximum subscriptions.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub subs: i64,
    /// Maximum bytes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub data: i64,
    /// Maximum message payload.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub payload: i64,
}

/// rnats' rate quota (see [`crate::quota`]): extra fields of an account's
/// or user's limits, which nats-server ignores. Zero: no quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateQuota {
    /// Messages per second.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub msgs_per_sec: i64,
    /// Payload bytes per second.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub bytes_per_sec: i64,
    /// How long the rate may be exceeded at once, in milliseconds (0: one
    /// second).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub burst_ms: i64,
}

impl RateQuota {
    /// The quota as the server enforces it; `None` when unset.
    pub fn to_limit(&self) -> Option<crate::quota::RateLimit> {
        crate::quota::RateLimit::from_jwt(self.msgs_per_sec, self.bytes_per_sec, self.burst_ms)
    }
}

impl NatsLimits {
    /// All three unlimited (what nsc writes by default).
    pub const UNLIMITED: NatsLimits = NatsLimits {
        subs: NO_LIMIT,
        data: NO_LIMIT,
        payload: NO_LIMIT,
    };

    /// True when all three are zero (absent).
    pub fn is_zero(&self) -> bool {
        *self == NatsLimits::default()
    }
}

/// Reads `src` as nats does: a JSON array of CIDRs, or one string of
/// comma-separated CIDRs (trimmed, lower-cased, empty entries dropped).
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => Vec::new(),
        Some(Raw::List(v)) => v,
        Some(Raw::Text(s)) => {
            let mut out: Vec<String> = Vec::new();
            for part in s.to_lowercase().split(',') {
                let p = part.trim().to_string();
                if !p.is_empty() && !out.contains(&p) {
                    out.push(p);
                }
            }
            out
        }
    })
}

/// What a user may do and from where: the body of a user JWT minus its
/// bookkeeping, and the `template` of a scoped signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPermissionLimits {
    /// Publish/subscribe/response permissions.
    #[serde(flatten)]
    pub permissions: Permissions,
    /// Allowed client source networks (CIDR); empty: any.
    #[serde(
        default,
        deserialize_with = "cidr_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub src: Vec<String>,
    /// Allowed daily connect windows; empty: any time.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub times: Vec<TimeRange>,
    /// IANA zone for `times` (server local time when empty).
    #[serde(
        rename = "times_location",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub locale: String,
    /// Subscription, data and payload limits.
    #[serde(flatten)]
    pub limits: NatsLimits,
    /// rnats' rate quota for this user.
    #[serde(flatten)]
    pub rate: RateQuota,
    /// No nonce signature required: whoever has the JWT is the user.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub bearer_token: bool,
    /// The connection must come through a trusted proxy.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub proxy_required: bool,
    /// Transports the user may use; empty: all.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// What nats' `NewUserClaims` starts with: everything unlimited.
    pub fn unlimited() -> Self {
        UserPermissionLimits {
            limits: NatsLimits::UNLIMITED,
            ..Default::default()
        }
    }

    /// True when nothing is set: no permission, no limit (not even `-1`), no
    /// flag. Users issued by a scoped signing key must be like this; the scope
    /// template supplies their permissions.
    pub fn is_empty(&self) -> bool {
        *self == UserPermissionLimits::default()
    }
}

/// Stream or service, for exports, imports and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    /// Messages flow from exporter to importer.
    Stream,
    /// Requests flow to the exporter, replies back.
    Service,
}

impl std::fmt::Display for ExportType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExportType::Stream => "stream",
            ExportType::Service => "service",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_accepts_list_or_comma_string() {
        let u: UserPermissionLimits =
            serde_json::from_str(r#"{"src":"192.168.1.0/24, 10.0.0.0/8,,10.0.0.0/8"}"#).unwrap();
        assert_eq!(u.src, vec!["192.168.1.0/24", "10.0.0.0/8"]);
        let u: UserPermissionLimits =
            serde_json::from_str(r#"{"src":["192.168.1.0/24"]}"#).unwrap();
        assert_eq!(u.src, vec!["192.168.1.0/24"]);
        let u: UserPermissionLimits = serde_json::from_str(r#"{"src":null}"#).unwrap();
        assert!(u.src.is_empty());
        assert!(serde_json::from_str::<UserPermissionLimits>(r#"{"src":5}"#).is_err());
    }

    #[test]
    fn nulls_read_as_empty() {
        let u: UserPermissionLimits = serde_json::from_str(
            r#"{"pub":null,"sub":{"allow":null},"subs":null,"times":null,"tags":null}"#,
        )
        .unwrap();
        assert!(u.is_empty());
    }

    #[test]
    fn go_shape() {
        let u = UserPermissionLimits::unlimited();
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1}"#
        );
        assert_eq!(
            serde_json::to_string(&UserPermissionLimits::default()).unwrap(),
            r#"{"pub":{},"sub":{}}"#
        );
        let p = Permissions {
            resp: Some(ResponsePermission {
                max_msgs: 1,
                expires_ns: 0,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"pub":{},"sub":{},"resp":{"max":1,"ttl":0}}"#
        );
    }

    #[test]
    fn time_of_day() {
        assert_eq!(parse_time_of_day("00:00:00"), Some(0));
        assert_eq!(parse_time_of_day("23:59:59"), Some(86399));
        for bad in [
            "24:00:00",
            "1:00:00",
            "12:60:00",
            "12:00",
            "12:00:00:00",
            "aa:bb:cc",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn tags_are_normalised() {
        let mut g = GenericFields::default();
        g.add_tag(" Prod ");
        g.add_tag("prod");
        g.add_tag("");
        assert_eq!(g.tags, vec!["prod"]);
        g.remove_tag("PROD");
        assert!(g.tags.is_empty());
    }

    #[test]
    fn export_type_json() {
        assert_eq!(
            serde_json::to_string(&ExportType::Service).unwrap(),
            r#""service""#
        );
        assert!(serde_json::from_str::<ExportType>(r#""other""#).is_err());
    }
}
