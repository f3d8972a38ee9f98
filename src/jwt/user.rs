//! User and activation claim bodies.

use serde::{Deserialize, Serialize};

use super::serde_util::nullable;
use super::types::{ExportType, GenericFields, UserPermissionLimits};

/// The `nats` object of a user JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Permissions, limits, source networks, times, bearer flag, connection
    /// types.
    #[serde(flatten)]
    pub permission_limits: UserPermissionLimits,
    /// The account's public key when the JWT was signed by one of the
    /// account's signing keys rather than the account key itself.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub issuer_account: String,
    /// `type`, `version`, `tags`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl User {
    /// nats' `NewUserClaims` body: unlimited subs/data/payload.
    pub fn new_default() -> Self {
        User {
            permission_limits: UserPermissionLimits::unlimited(),
            ..Default::default()
        }
    }

    /// nats' `SetScoped(true)` body: no permission or limit at all, as users
    /// of scoped signing keys require.
    pub fn new_scoped() -> Self {
        User::default()
    }
}

/// The `nats` object of an activation JWT: permission for the account in
/// `sub` to import `subject` from the issuing account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// The subject (may be a wildcard covering the import).
    #[serde(
        rename = "subject",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub import_subject: String,
    /// Stream or service.
    #[serde(rename = "kind", default, skip_serializing_if = "Option::is_none")]
    pub import_type: Option<ExportType>,
    /// The exporting account when signed by one of its signing keys.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub issuer_account: String,
    /// `type`, `version`, `tags`.
    #[serde(flatten)]
    pub generic: GenericFields,
}
