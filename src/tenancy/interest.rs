//! What an account on this server wants to receive from other servers: its
//! local subscriptions (counted per subject and queue group), the subjects
//! its stream exports are imported under elsewhere on this server, and the
//! reply subjects of requests it sent through service imports.
//!
//! Other servers learn it as route interest (`RS+`/`RS-`): only the first
//! local subscription on a subject and the last one leaving are announced,
//! and a queue group is announced with its number of local members (its
//! weight), again whenever that number changes. The counts live here, with
//! the account, so a new route can be sent the whole picture
//! ([`Interest::with_each`]) and a change can be announced in the order it
//! happened ([`InterestHook::changed`] runs under this lock).

use ahash::AHashMap;
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

use super::account::Account;

/// Who hears about interest changes (the cluster's routes). The hook is
/// called under the account's interest lock, so it must only append to
/// outbound buffers (leaf locks) and never take an account lock.
pub trait InterestHook: Send + Sync {
    /// The local count of (`subject`, `queue`) in `acc` is now `count`
    /// (0: the interest is gone).
    fn changed(&self, acc: &Account, subject: &str, queue: Option<&str>, count: u32);
}

/// (subject, queue group).
type Key = (Box<str>, Option<Box<str>>);

/// The counted interest of one account.
#[derive(Default)]
pub struct Interest {
    counts: Mutex<AHashMap<Key, u32>>,
    hook: OnceLock<Arc<dyn InterestHook>>,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interest")
            .field("entries", &self.counts.lock().len())
            .finish()
    }
}

impl Interest {
    /// Installs the hook (once; the cluster's, at start).
    pub fn set_hook(&self, hook: Arc<dyn InterestHook>) {
        let _ = self.hook.set(hook);
    }

    /// Adds `delta` to the count of (`subject`, `queue`) and tells the hook
    /// when the announcement changes: the first and last plain interest,
    /// every new weight of a queue group.
    pub fn add(&self, acc: &Account, subject: &str, queue: Option<&str>, delta: i32) {
        let mut counts = self.counts.lock();
        let key = (Box::<str>::from(subject), queue.map(Box::<str>::from));
        let before = counts.get(&key).copied().unwrap_or(0);
        let after = (i64::from(before) + i64::from(delta)).max(0) as u32;
        if after == 0 {
            counts.remove(&key);
        } else {
            counts.insert(key, after);
        }
        let announce = match queue {
            Some(_) => before != after,
            None => (before == 0) != (after == 0),
        };
        if announce {
            if let Some(h) = self.hook.get() {
                h.changed(acc, subject, queue, after);
            }
        }
    }

    /// Calls `f` with every interest and its count, under the lock (so no
    /// change is announced meanwhile).
    pub fn with_each(&self, mut f: impl FnMut(&str, Option<&str>, u32)) {
        let counts = self.counts.lock();
        for ((subject, queue), n) in counts.iter() {
            f(subject, queue.as_deref(), *n);
        }
    }

    /// Whether the account has any interest to announce.
    pub fn is_empty(&self) -> bool {
        self.counts.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl InterestHook for Log {
        fn changed(&self, _: &Account, subject: &str, queue: Option<&str>, count: u32) {
            self.0
                .lock()
                .push(format!("{subject} {} {count}", queue.unwrap_or("-")));
        }
    }

    #[test]
    fn announces_first_and_last_plain_interest_and_every_queue_weight() {
        let acc = Account::new("A", false);
        let log = Arc::new(Log::default());
        acc.interest.set_hook(log.clone());
        acc.interest.add(&acc, "foo", None, 1);
        acc.interest.add(&acc, "foo", None, 1);
        acc.interest.add(&acc, "foo", None, -1);
        acc.interest.add(&acc, "foo", None, -1);
        acc.interest.add(&acc, "q", Some("g"), 1);
        acc.interest.add(&acc, "q", Some("g"), 1);
        acc.interest.add(&acc, "q", Some("g"), -1);
        acc.interest.add(&acc, "q", Some("g"), -1);
        assert_eq!(
            *log.0.lock(),
            ["foo - 1", "foo - 0", "q g 1", "q g 2", "q g 1", "q g 0"]
        );
        assert!(acc.interest.is_empty());
    }
}
