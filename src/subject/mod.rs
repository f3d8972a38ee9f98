//! Subjects: validation and the subscription index.

#[doc(hidden)]
pub mod fuzz_check;
pub mod sublist;
pub mod validate;

pub use sublist::{
    Sublist, SublistError, SublistResult, SublistStats, CACHE_MAX as SUBLIST_CACHE_MAX,
};
pub use validate::*;
