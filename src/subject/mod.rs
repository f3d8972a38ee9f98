//! Subjects: validation and the subscription index.

pub mod sublist;
pub mod validate;

pub use sublist::{Sublist, SublistError, SublistResult};
pub use validate::*;
