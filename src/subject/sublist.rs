//! The subscription index. INTERFACE STUB: to be replaced by the real implementation.
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SublistError {
    #[error("invalid subject")]
    InvalidSubject,
    #[error("not found")]
    NotFound,
}

/// The subscriptions that match one literal subject.
#[derive(Debug)]
pub struct SublistResult<T> {
    /// Plain subscriptions.
    pub psubs: Vec<T>,
    /// Queue subscriptions grouped by queue name: one entry per group.
    pub qsubs: Vec<(Arc<str>, Vec<T>)>,
}

impl<T> SublistResult<T> {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }
}

/// Subscription index; items are removed by `PartialEq`.
pub struct Sublist<T> {
    _t: std::marker::PhantomData<T>,
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Sublist<T> {
    pub fn new(cache: bool) -> Self {
        let _ = cache;
        todo!()
    }
    pub fn insert(&self, subject: &str, queue: Option<&str>, item: T) -> Result<(), SublistError> {
        let _ = (subject, queue, item);
        todo!()
    }
    pub fn remove(&self, subject: &str, queue: Option<&str>, item: &T) -> Result<(), SublistError> {
        let _ = (subject, queue, item);
        todo!()
    }
    pub fn match_subject(&self, subject: &str) -> Arc<SublistResult<T>> {
        let _ = subject;
        todo!()
    }
    pub fn generation(&self) -> u64 {
        todo!()
    }
    pub fn count(&self) -> usize {
        todo!()
    }
}
