//! Account claims: limits, exports and imports, signing keys (plain and
//! scoped), revocations, default permissions, mappings, external
//! authorization, tracing.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_util::{is_false, is_zero_i64, is_zero_u64, nullable};
use super::types::{
    ExportType, GenericFields, Info, NatsLimits, Permissions, UserPermissionLimits, NO_LIMIT,
};

/// Connection, leafnode, import/export and bearer limits of an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// Maximum imports (`-1` unlimited).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub imports: i64,
    /// Maximum exports (`-1` unlimited).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub exports: i64,
    /// Exports may contain wildcards.
    #[serde(
        rename = "wildcards",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub wildcard_exports: bool,
    /// User JWTs of this account may not be bearer tokens.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub disallow_bearer: bool,
    /// Maximum client connections (`-1` unlimited).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub conn: i64,
    /// Maximum leafnode connections (`-1` unlimited).
    #[serde(
        rename = "leaf",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub leaf_node_conn: i64,
}

/// JetStream limits. Absent or 0 storage means JetStream is disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamLimits {
    /// Bytes of memory storage across streams (`-1` unlimited).
    #[serde(
        rename = "mem_storage",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub memory_storage: i64,
    /// Bytes of disk storage across streams (`-1` unlimited).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub disk_storage: i64,
    /// Maximum streams.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub streams: i64,
    /// Maximum consumers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub consumer: i64,
    /// Maximum ack pending per consumer.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_ack_pending: i64,
    /// Maximum bytes of one memory stream.
    #[serde(
        rename = "mem_max_stream_bytes",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub memory_max_stream_bytes: i64,
    /// Maximum bytes of one disk stream.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub disk_max_stream_bytes: i64,
    /// Streams must declare a maximum size.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub max_bytes_required: bool,
}

impl JetStreamLimits {
    /// True when JetStream is enabled by these limits.
    pub fn is_enabled(&self) -> bool {
        self.memory_storage != 0 || self.disk_storage != 0
    }
}

/// All limits of an account JWT (the `limits` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorLimits {
    /// `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub nats: NatsLimits,
    /// `imports`, `exports`, `wildcards`, `disallow_bearer`, `conn`, `leaf`.
    #[serde(flatten)]
    pub account: AccountLimits,
    /// rnats' rate quota for the whole account.
    #[serde(flatten)]
    pub rate: super::types::RateQuota,
    /// Untiered JetStream limits.
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// JetStream limits per tier (`R1`, `R3`, ...); exclusive with `jetstream`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tiered_limits: BTreeMap<String, JetStreamLimits>,
}

impl OperatorLimits {
    /// nats' `NewAccountClaims` defaults: everything unlimited, wildcard
    /// exports allowed, JetStream disabled.
    pub fn unlimited() -> Self {
        OperatorLimits {
            nats: NatsLimits::UNLIMITED,
            account: AccountLimits {
                imports: NO_LIMIT,
                exports: NO_LIMIT,
                wildcard_exports: true,
                disallow_bearer: false,
                conn: NO_LIMIT,
                leaf_node_conn: NO_LIMIT,
            },
            rate: super::types::RateQuota::default(),
            jetstream: JetStreamLimits::default(),
            tiered_limits: BTreeMap::new(),
        }
    }

    /// True when every limit is 0/false/absent.
    pub fn is_empty(&self) -> bool {
        *self == OperatorLimits::default()
    }

    /// True when JetStream is enabled, tiered or not.
    pub fn is_jetstream_enabled(&self) -> bool {
        if self.tiered_limits.is_empty() {
            self.jetstream.is_enabled()
        } else {
            self.tiered_limits.values().any(JetStreamLimits::is_enabled)
        }
    }
}

/// A revocation list: public key (or `*` for all) to unix seconds. Every
/// credential of that key issued at or before the time is revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevocationList(pub BTreeMap<String, i64>);

/// The key of a revocation that covers all keys.
pub const REVOKE_ALL: &str = "*";

impl RevocationList {
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Revokes everything `key` got at or before `at`. A revocation is never
    /// moved earlier (that would un-revoke credentials), as in nats' library.
    pub fn revoke(&mut self, key: &str, at: i64) {
        match self.0.get(key) {
            Some(&old) if old > at => {}
            _ => {
                self.0.insert(key.to_string(), at);
            }
        }
    }

    /// Removes the revocation of `key`.
    pub fn clear(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// True when a credential of `key` issued at `issued_at` is revoked,
    /// by its own entry or by `*`.
    pub fn is_revoked(&self, key: &str, issued_at: i64) -> bool {
        let hit = |k: &str| self.0.get(k).is_some_and(|&ts| ts >= issued_at);
        hit(REVOKE_ALL) || hit(key)
    }

    /// Drops entries covered by the `*` entry; returns what was removed.
    pub fn compact(&mut self) -> Vec<(String, i64)> {
        let Some(&all) = self.0.get(REVOKE_ALL) else {
            return Vec::new();
        };
        let removed: Vec<(String, i64)> = self
            .0
            .iter()
            .filter(|(k, &ts)| k.as_str() != REVOKE_ALL && ts <= all)
            .map(|(k, &ts)| (k.clone(), ts))
            .collect();
        for (k, _) in &removed {
            self.0.remove(k);
        }
        removed
    }
}

/// Latency tracking of a service export. `sampling` is a percentage
/// (1..=100), or 0, written `"headers"`, to sample on request headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLatency {
    /// Sampling percentage; 0 means "headers".
    #[serde(serialize_with = "ser_sampling", deserialize_with = "de_sampling")]
    pub sampling: i64,
    /// Subject latency results are published to.
    #[serde(default, deserialize_with = "nullable")]
    pub results: String,
}

fn ser_sampling<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    if *v == 0 {
        s.serialize_str("headers")
    } else {
        s.serialize_i64(*v)
    }
}

fn de_sampling<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }
    match Raw::deserialize(d)? {
        Raw::N(n) => Ok(n),
        Raw::S(s) if s.eq_ignore_ascii_case("headers") => Ok(0),
        Raw::S(s) => Err(D::Error::custom(format!("unknown sampling rate {s:?}"))),
    }
}

/// Response types of service exports.
pub mod response_type {
    /// One response per request (the default).
    pub const SINGLETON: &str = "Singleton";
    /// Any number of responses.
    pub const STREAM: &str = "Stream";
    /// One response in several messages.
    pub const CHUNKED: &str = "Chunked";
}

/// A stream or service this account offers other accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Friendly name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Exported subject (wildcards allowed if the limits permit).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub subject: String,
    /// Stream or service.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub export_type: Option<ExportType>,
    /// Private: importers need an activation token.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub token_req: bool,
    /// Revoked activations: importer account (or `*`) to unix seconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "RevocationList::is_empty"
    )]
    pub revocations: RevocationList,
    /// `Singleton` (default), `Stream` or `Chunked`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub response_type: String,
    /// How long the exporter may take to respond, nanoseconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub response_threshold: i64,
    /// Latency tracking.
    #[serde(
        rename = "service_latency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<ServiceLatency>,
    /// 1-based subject token that must equal the importer's account key.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub account_token_position: u64,
    /// Listed for discovery.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub advertise: bool,
    /// Message traces may cross this export.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_trace: bool,
    /// Description and link.
    #[serde(flatten)]
    pub info: Info,
}

impl Export {
    /// True for service exports.
    pub fn is_service(&self) -> bool {
        self.export_type == Some(ExportType::Service)
    }

    /// True for stream exports.
    pub fn is_stream(&self) -> bool {
        self.export_type == Some(ExportType::Stream)
    }

    /// True when an activation of `importer` issued at `issued_at` was revoked.
    pub fn is_activation_revoked(&self, importer: &str, issued_at: i64) -> bool {
        self.revocations.is_revoked(importer, issued_at)
    }
}

/// A stream or service this account takes from another account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// Friendly name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// The exporter's subject.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub subject: String,
    /// The exporting account's public key.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub account: String,
    /// Activation JWT for private exports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub token: String,
    /// Deprecated: for streams a prefix, for services the exporter's subject.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub to: String,
    /// The subject it has in this account (may use `$1` for wildcards).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub local_subject: String,
    /// Stream or service.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub import_type: Option<ExportType>,
    /// Share the requester's identity with the exporter for latency tracking.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub share: bool,
    /// Message traces may cross this import.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_trace: bool,
}

impl Import {
    /// True for service imports.
    pub fn is_service(&self) -> bool {
        self.import_type == Some(ExportType::Service)
    }

    /// True for stream imports.
    pub fn is_stream(&self) -> bool {
        self.import_type == Some(ExportType::Stream)
    }
}

/// The scope of a scoped signing key: users it signs get `template` as their
/// permissions and limits, and must carry none themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserScope {
    /// Always `user_scope`.
    pub kind: String,
    /// The signing key (`A...`).
    pub key: String,
    /// A role name tools use to pick the key.
    pub role: String,
    /// Permissions and limits of the users it signs; may use the templates
    /// `{{name()}}`, `{{subject()}}`, `{{account-name()}}`,
    /// `{{account-subject()}}`, `{{tag(x)}}`, `{{account-tag(x)}}`.
    pub template: UserPermissionLimits,
    /// Description.
    pub description: String,
}

/// The only scope kind nats defines.
pub const USER_SCOPE: &str = "user_scope";

impl UserScope {
    /// A scope for `key` with nats' default template (unlimited, no
    /// permissions).
    pub fn new(key: &str, role: &str) -> Self {
        UserScope {
            kind: USER_SCOPE.to_string(),
            key: key.to_string(),
            role: role.to_string(),
            template: UserPermissionLimits::unlimited(),
            description: String::new(),
        }
    }
}

/// nats' `NewUserScope` presets the template's `subs`, `data` and `payload`
/// to -1 before reading the JSON, so a template without them is unlimited,
/// not zero. Reading through a JSON value lets us do the same.
impl<'de> Deserialize<'de> for UserScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default, deserialize_with = "nullable")]
            kind: String,
            #[serde(default, deserialize_with = "nullable")]
            key: String,
            #[serde(default, deserialize_with = "nullable")]
            role: String,
            #[serde(default)]
            template: Option<serde_json::Value>,
            #[serde(default, deserialize_with = "nullable")]
            description: String,
        }
        let raw = Raw::deserialize(d)?;
        let mut tv = match raw.template {
            Some(serde_json::Value::Object(m)) => m,
            Some(serde_json::Value::Null) | None => serde_json::Map::new(),
            Some(_) => return Err(D::Error::custom("scope template must be an object")),
        };
        for f in ["subs", "data", "payload"] {
            if tv.get(f).is_none_or(serde_json::Value::is_null) {
                tv.insert(f.to_string(), serde_json::Value::from(NO_LIMIT));
            }
        }
        let template = serde_json::from_value(serde_json::Value::Object(tv))
            .map_err(|e| D::Error::custom(format!("scope template: {e}")))?;
        Ok(UserScope {
            kind: raw.kind,
            key: raw.key,
            role: raw.role,
            template,
            description: raw.description,
        })
    }
}

/// An account's signing keys: each a plain key or a scoped one. Written as a
/// JSON array of strings and scope objects, sorted by key (as nats does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningKeys(BTreeMap<String, Option<UserScope>>);

impl SigningKeys {
    /// True when there is no signing key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when `key` is one of the signing keys (plain or scoped).
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The scope of `key`: `None` if it is not a signing key, `Some(None)`
    /// for a plain key, `Some(Some(scope))` for a scoped one.
    pub fn get(&self, key: &str) -> Option<Option<&UserScope>> {
        self.0.get(key).map(Option::as_ref)
    }

    /// The scope of `key` if it is a scoped signing key.
    pub fn scope(&self, key: &str) -> Option<&UserScope> {
        self.0.get(key).and_then(Option::as_ref)
    }

    /// Adds a plain signing key (keeps an existing scope of the same key).
    pub fn add(&mut self, key: &str) {
        self.0.entry(key.to_string()).or_insert(None);
    }

    /// Adds or replaces a scoped signing key.
    pub fn add_scope(&mut self, scope: UserScope) {
        self.0.insert(scope.key.clone(), Some(scope));
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// All keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// All entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&UserScope>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_ref()))
    }

    /// The scoped key with role `role`, if any.
    pub fn by_role(&self, role: &str) -> Option<&UserScope> {
        self.0.values().flatten().find(|s| s.role == role)
    }
}

impl Serialize for SigningKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                Some(scope) => seq.serialize_element(scope)?,
                None => seq.serialize_element(k)?,
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SigningKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
        let mut out = SigningKeys::default();
        for item in items {
            match item {
                serde_json::Value::String(k) => out.add(&k),
                serde_json::Value::Object(ref m) => {
                    let kind = m.get("kind").and_then(|v| v.as_str()).unwrap_or("");
                    if kind != USER_SCOPE {
                        return Err(D::Error::custom(format!(
                            "unknown signing key scope {kind:?}"
                        )));
                    }
                    let scope: UserScope =
                        serde_json::from_value(item).map_err(D::Error::custom)?;
                    out.add_scope(scope);
                }
                // nats' library skips other JSON values; so do we.
                _ => {}
            }
        }
        Ok(out)
    }
}

/// One destination of a subject mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedMapping {
    /// Destination subject.
    #[serde(default, deserialize_with = "nullable")]
    pub subject: String,
    /// Percentage of messages (1..=100); 0 means 100.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u8"
    )]
    pub weight: u8,
    /// Only in this cluster.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster: String,
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

impl WeightedMapping {
    /// The effective weight (0 counts as 100).
    pub fn weight(&self) -> u8 {
        if self.weight == 0 {
            100
        } else {
            self.weight
        }
    }
}

/// External authorization (auth callout) settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAuthorization {
    /// Users that bypass the callout (`U...`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub auth_users: Vec<String>,
    /// Accounts the callout may place users in (`A...` or `*`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_accounts: Vec<String>,
    /// Curve key requests are encrypted to (`X...`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub xkey: String,
}

impl ExternalAuthorization {
    /// True when auth callout is enabled (it needs auth users).
    pub fn is_enabled(&self) -> bool {
        !self.auth_users.is_empty()
    }
}

/// Distributed message tracing settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgTrace {
    /// Subject traces are sent to.
    #[serde(
        rename = "dest",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub destination: String,
    /// Sampling percentage (1..=100; 0 means 100).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub sampling: i64,
}

/// The `nats` object of an account JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Imports from other accounts.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub imports: Vec<Import>,
    /// Exports to other accounts.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exports: Vec<Export>,
    /// Limits (always written, as Go does).
    #[serde(default, deserialize_with = "nullable")]
    pub limits: OperatorLimits,
    /// Keys allowed to sign users and activations.
    #[serde(default, skip_serializing_if = "SigningKeys::is_empty")]
    pub signing_keys: SigningKeys,
    /// Revoked users: user key (or `*`) to unix seconds.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "RevocationList::is_empty"
    )]
    pub revocations: RevocationList,
    /// Permissions of users whose JWT has none (always written).
    #[serde(default, deserialize_with = "nullable")]
    pub default_permissions: Permissions,
    /// Subject mappings.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub mappings: BTreeMap<String, Vec<WeightedMapping>>,
    /// Auth callout (always written, as Go does).
    #[serde(default, deserialize_with = "nullable")]
    pub authorization: ExternalAuthorization,
    /// Message tracing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<MsgTrace>,
    /// Where JetStream cluster traffic flows: `""`, `system` or `owner`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster_traffic: String,
    /// Description and link.
    #[serde(flatten)]
    pub info: Info,
    /// `type`, `version`, `tags`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl Account {
    /// nats' `NewAccountClaims` body: unlimited limits, nothing else.
    pub fn new_default() -> Self {
        Account {
            limits: OperatorLimits::unlimited(),
            ..Default::default()
        }
    }

    /// The export that `subject` is exported under (exact subject match).
    pub fn export_by_subject(&self, subject: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.subject == subject)
    }
}
