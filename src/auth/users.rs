//! Users and nkey users from `authorization { users: [...] }`.

use std::collections::HashMap;
use std::sync::Arc;

use super::permissions::{self, Permissions};
use crate::config::{ConfigError, Kind, Map, Value};
use crate::quota::RateLimit;

/// Connection types a user may be limited to.
pub const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// A user/password (or certificate-mapped) user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    /// Plain text or a bcrypt hash; `None` for users that authenticate by
    /// certificate only.
    pub password: Option<String>,
    pub permissions: Option<Arc<Permissions>>,
    /// The account the user belongs to (`None` = the global account).
    pub account: Option<String>,
    /// Allowed connection types (upper case); `None` = all.
    pub connection_types: Option<Vec<String>>,
    /// The user's rate quota (`limits { msgs_per_sec, bytes_per_sec, burst }`).
    pub rate: Option<RateLimit>,
}

/// An nkey user, identified by its public key.
#[derive(Debug, Clone, PartialEq)]
pub struct NkeyUser {
    pub nkey: String,
    pub permissions: Option<Arc<Permissions>>,
    pub account: Option<String>,
    pub connection_types: Option<Vec<String>>,
    /// The user's rate quota.
    pub rate: Option<RateLimit>,
}

/// Why [`Users::merge`] refused a block: a name defined twice, which
/// nats-server refuses too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// A user name already defined (in `authorization` or another account).
    #[error("Duplicate user {name:?} detected")]
    DuplicateUser { name: String },
    /// An nkey already defined.
    #[error("Duplicate nkey {nkey:?} detected")]
    DuplicateNkey { nkey: String },
}

/// The users and nkey users of one block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Users {
    pub users: HashMap<String, Arc<User>>,
    pub nkeys: HashMap<String, Arc<NkeyUser>>,
}

impl Users {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.nkeys.is_empty()
    }

    /// Adds every user of another block (e.g. an account's), refusing
    /// duplicates as nats-server does.
    ///
    /// # Errors
    /// A user or nkey defined twice.
    pub fn merge(&mut self, other: Users) -> Result<(), MergeError> {
        for (k, u) in other.users {
            if self.users.insert(k.clone(), u).is_some() {
                return Err(MergeError::DuplicateUser { name: k });
            }
        }
        for (k, u) in other.nkeys {
            if self.nkeys.insert(k.clone(), u).is_some() {
                return Err(MergeError::DuplicateNkey { nkey: k });
            }
        }
        Ok(())
    }
}

/// nats-server's error for a `users` value that is not an array.
pub fn users_not_an_array(v: &Value, key: &str) -> ConfigError {
    ConfigError::at(
        &v.pos,
        key,
        format!(
            "Expected users field to be an array, got {}",
            v.kind.go_value()
        ),
    )
}

/// Parses a `users: [...]` array. `account` is set on every user (for users
/// inside an `accounts` block); `defaults` apply to users without their own
/// permissions.
///
/// # Errors
/// Wrong types, invalid nkeys, nkey combined with user/password, duplicate
/// users, unknown fields, with file, line and nats-server's texts.
pub fn parse_users(
    v: &Value,
    key: &str,
    account: Option<&str>,
    defaults: Option<&Arc<Permissions>>,
) -> Result<Users, ConfigError> {
    let Kind::Array(items) = &v.kind else {
        return Err(users_not_an_array(v, key));
    };
    let mut out = Users::default();
    for item in items {
        let Kind::Map(m) = &item.kind else {
            return Err(ConfigError::at(
                &item.pos,
                key,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    item.kind.go_value()
                ),
            ));
        };
        parse_user(m, item, key, account, defaults, &mut out)?;
    }
    Ok(out)
}

fn want_str<'a>(v: &'a Value, key: &str) -> Result<&'a str, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        other => Err(ConfigError::wrong_type(&v.pos, key, "a string", other)),
    }
}

/// A user's `limits {}`: its rate quota (the only per-user limits rnats
/// reads from the config).
fn parse_user_limits(v: &Value, key: &str) -> Result<RateLimit, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(ConfigError::at(
            &v.pos,
            key,
            "Expected user limits to be a map",
        ));
    };
    let mut rate = RateLimit::default();
    for (k, v) in m.iter() {
        if !crate::quota::is_rate_key(&k.name) {
            return Err(ConfigError::at(
                &k.pos,
                key,
                format!("Unknown field {:?} parsing user limits", k.name),
            ));
        }
        crate::quota::parse_rate_key(&mut rate, &k.name, v, &format!("{key}.{}", k.name))?;
    }
    Ok(rate)
}

fn parse_user(
    m: &Map,
    item: &Value,
    key: &str,
    account: Option<&str>,
    defaults: Option<&Arc<Permissions>>,
    out: &mut Users,
) -> Result<(), ConfigError> {
    let mut name = String::new();
    let mut password = None;
    let mut nkey = String::new();
    let mut perms = None;
    let mut types = None;
    let mut rate = None;
    // nats-server reports an entry's errors at the last value it read.
    let mut last = &item.pos;
    for (k, v) in m.iter() {
        let path = format!("{key}.{}", k.name);
        last = &v.pos;
        match k.name.to_ascii_lowercase().as_str() {
            "user" | "username" => name = want_str(v, &path)?.to_owned(),
            "pass" | "password" => password = Some(want_str(v, &path)?.to_owned()),
            "nkey" => nkey = want_str(v, &path)?.to_owned(),
            "permission" | "permissions" | "authorization" => {
                perms = Some(permissions::parse(v, &path)?)
            }
            "allowed_connection_types" | "connection_types" | "clients" => {
                types = Some(parse_connection_types(v, &path)?)
            }
            "limits" => rate = Some(parse_user_limits(v, &path)?),
            "proxy_required" => {
                if !matches!(v.kind, Kind::Bool(_)) {
                    return Err(ConfigError::wrong_type(&v.pos, &path, "a boolean", &v.kind));
                }
            }
            _ => {
                return Err(ConfigError::at(
                    &k.pos,
                    &path,
                    format!("unknown field {:?}", k.name),
                ))
            }
        }
    }
    let permissions = perms.or_else(|| defaults.cloned());
    let account = account.map(str::to_owned);
    // nats-server's checks, in its order: an empty name or nkey is none.
    if nkey.is_empty() && name.is_empty() {
        return Err(ConfigError::at(last, key, "User entry requires a user"));
    }
    if nkey.is_empty() {
        let u = User {
            name: name.clone(),
            password,
            permissions,
            account,
            connection_types: types,
            rate,
        };
        if out.users.insert(name.clone(), Arc::new(u)).is_some() {
            return Err(ConfigError::at(
                &item.pos,
                key,
                MergeError::DuplicateUser { name }.to_string(),
            ));
        }
        return Ok(());
    }
    if !crate::nkeys::is_valid_public_key(&nkey, crate::nkeys::KeyKind::User) {
        return Err(ConfigError::at(
            last,
            key,
            "Not a valid public nkey for a user",
        ));
    }
    if !name.is_empty() || password.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(ConfigError::at(
            last,
            key,
            "Nkey users do not take usernames or passwords",
        ));
    }
    let u = NkeyUser {
        nkey: nkey.clone(),
        permissions,
        account,
        connection_types: types,
        rate,
    };
    if out.nkeys.insert(nkey.clone(), Arc::new(u)).is_some() {
        return Err(ConfigError::at(
            &item.pos,
            key,
            MergeError::DuplicateNkey { nkey }.to_string(),
        ));
    }
    Ok(())
}

/// `allowed_connection_types`: a type or an array of types, checked as
/// nats-server checks them (every unknown type named in one error).
fn parse_connection_types(v: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let prefix = "error parsing allowed connection types";
    let items: Vec<&Value> = match &v.kind {
        Kind::Array(a) => a.iter().collect(),
        Kind::String(_) => vec![v],
        other => {
            return Err(ConfigError::at(
                &v.pos,
                key,
                format!("{prefix}: unsupported type {}", other.go_type()),
            ))
        }
    };
    let mut types = Vec::with_capacity(items.len());
    for item in items {
        let Kind::String(t) = &item.kind else {
            return Err(ConfigError::at(
                &item.pos,
                key,
                format!(
                    "{prefix}: unsupported type in array {}",
                    item.kind.go_type()
                ),
            ));
        };
        types.push(t.to_ascii_uppercase());
    }
    let unknown: Vec<String> = types
        .iter()
        .filter(|t| !CONNECTION_TYPES.contains(&t.as_str()))
        .map(|t| format!("{t:?}"))
        .collect();
    if !unknown.is_empty() {
        // Go's `%q` of a string slice.
        return Err(ConfigError::at(
            &v.pos,
            key,
            format!("invalid connection types [{}]", unknown.join(" ")),
        ));
    }
    Ok(types)
}
