//! Subjects: validation and the subscription index.

pub mod sublist;
pub mod validate;

pub use sublist::{
    Sublist, SublistError, SublistResult, SublistStats, CACHE_MAX as SUBLIST_CACHE_MAX,
};
pub use validate::*;
