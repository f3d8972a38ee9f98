//! Accounts: each owns its own subject space. A connection is bound to one
//! account and every subscription and publish goes through that account's
//! index, so accounts cannot see each other's messages unless something
//! explicitly links them.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::subscription::SubRef;
use crate::subject::Sublist;

/// The global account every connection lands in when no other applies.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The default name of the system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// One account: a name and its subscription index.
pub struct Account {
    pub name: Arc<str>,
    pub sublist: Sublist<SubRef>,
    /// Live client connections bound to this account.
    pub num_conns: AtomicU64,
    /// What the connections that were bound to this account did, added when
    /// each closes (monitoring adds the live connections' own counters).
    pub closed: ClosedTotals,
}

/// Message totals of an account's closed connections. Updated once per
/// closed connection, never on the message path.
#[derive(Debug, Default)]
pub struct ClosedTotals {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
}

impl ClosedTotals {
    /// Adds one closed connection's counters.
    pub fn add(&self, in_msgs: u64, in_bytes: u64, out_msgs: u64, out_bytes: u64, slow: bool) {
        self.in_msgs.fetch_add(in_msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
        self.out_msgs.fetch_add(out_msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(out_bytes, Ordering::Relaxed);
        if slow {
            self.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}

impl Account {
    pub fn new(name: &str, cache: bool) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(cache),
            num_conns: AtomicU64::new(0),
            closed: ClosedTotals::default(),
        }
    }

    pub fn conns(&self) -> u64 {
        self.num_conns.load(Ordering::Relaxed)
    }
}

/// All accounts of a server, by name.
pub struct Registry {
    accounts: RwLock<HashMap<Arc<str>, Arc<Account>>>,
    cache: bool,
}

impl Registry {
    /// A registry holding the global and system accounts.
    pub fn new(cache: bool) -> Self {
        let r = Registry {
            accounts: RwLock::new(HashMap::new()),
            cache,
        };
        r.get_or_create(GLOBAL_ACCOUNT);
        r.get_or_create(SYSTEM_ACCOUNT);
        r
    }

    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        self.accounts.read().get(name).cloned()
    }

    pub fn global(&self) -> Arc<Account> {
        self.get(GLOBAL_ACCOUNT).expect("global account exists")
    }

    pub fn get_or_create(&self, name: &str) -> Arc<Account> {
        if let Some(a) = self.get(name) {
            return a;
        }
        let mut w = self.accounts.write();
        w.entry(name.into())
            .or_insert_with(|| Arc::new(Account::new(name, self.cache)))
            .clone()
    }

    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut v: Vec<_> = self.accounts.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
