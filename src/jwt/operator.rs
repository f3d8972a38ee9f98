//! Operator claims: the root of trust. Self-signed by the operator identity
//! key; lists the keys allowed to sign accounts.

use serde::{Deserialize, Serialize};

use super::serde_util::{is_false, nullable};
use super::types::GenericFields;

/// The `nats` object of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// `O...` keys that may sign account JWTs besides the identity key.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signing_keys: Vec<String>,
    /// Where tools push account JWTs (`http(s)://.../jwt/v1` or `nats://...`);
    /// servers without a resolver build a URL resolver from it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub account_server_url: String,
    /// NATS URLs of the service, for tools.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub operator_service_urls: Vec<String>,
    /// `A...` key of the system account.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub system_account: String,
    /// Minimum server version (`major.minor.patch`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub assert_server_version: String,
    /// Accounts must be signed by a signing key, not the identity key.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub strict_signing_key_usage: bool,
    /// `type`, `version`, `tags`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl Operator {
    /// Adds a signing key unless present.
    pub fn add_signing_key(&mut self, key: &str) {
        if !self.signing_keys.iter().any(|k| k == key) {
            self.signing_keys.push(key.to_string());
        }
    }
}

/// Parses `major.minor.patch` (a leading `v` allowed), as
/// `assert_server_version` is compared.
pub fn parse_server_version(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch_part = it.next()?;
    // Allow pre-release suffixes such as 2.10.0-beta.
    let digits: String = patch_part
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let patch = digits.parse().ok()?;
    Some((major, minor, patch))
}
