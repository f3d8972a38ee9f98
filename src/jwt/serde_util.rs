//! Small serde helpers shared by the claim types.
//!
//! nats-io/jwt is written in Go, whose JSON decoder accepts `null` for any
//! field (leaving the zero value) and whose `omitempty` drops zero numbers,
//! empty strings and empty lists. These helpers give the same behaviour, so
//! tokens made by any NATS library decode here and ours look like theirs.

use serde::{Deserialize, Deserializer};

/// Deserialises `null` as the type's default, like Go does.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
