//! Accounts: each owns its own subject space. A connection is bound to one
//! account and every subscription and publish goes through that account's
//! index, so accounts cannot see each other's messages unless something
//! explicitly links them.

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::quota::{RateBucket, RateLimit};

use super::imports::{Exports, Forward, ResponseForward};
use super::mapping::{Mapped, Mappings};
use crate::server::subscription::SubRef;
use crate::subject::sublist::SublistError;
use crate::subject::Sublist;

/// The global account every connection lands in when no other applies.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The default name of the system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";
/// The first token of the reply subjects requests get when they cross a
/// service import (`_R_.<account prefix>.<token>`).
pub const REPLY_PREFIX_ROOT: &[u8] = b"_R_.";

/// One account: a name, its subscription index and what links it to other
/// accounts.
pub struct Account {
    pub name: Arc<str>,
    pub sublist: Sublist<SubRef>,
    /// Where messages published here go besides local subscribers: stream
    /// exports to importing accounts, service imports into exporting
    /// accounts, and the server's own handlers (system account). Kept apart
    /// from `sublist` so an account without imports pays one flag check.
    /// Replaced whole on every change ([`Account::edit_forwards`]), so a
    /// publisher sees either the old table or the new one, never a table
    /// half rebuilt.
    forwards: ArcSwap<Sublist<Forward>>,
    /// A 64-bit filter of the first tokens of the forward subjects (all bits
    /// for a forward starting with a wildcard; 0 without forwards): most
    /// publishes, say to `orders.x` in an account whose only forwards are the
    /// system imports under `$SYS`, skip the forward lookup on one bit test.
    forward_heads: AtomicU64,
    /// The forwards as a list, the source each new table is built from; its
    /// lock serializes forward changes.
    forward_list: Mutex<Vec<(Box<str>, Forward)>>,
    /// Whether forward tables keep a result cache.
    cache: bool,
    /// Serializes the application of claims to this account and remembers
    /// the `iat` of the claims in force, so an older JWT never replaces a
    /// newer one whatever order concurrent updates arrive in.
    pub claims_owner: Mutex<ClaimsVersion>,
    /// When the first activation token granting one of this account's
    /// imports expires (unix seconds, 0 = none): the imports are checked
    /// again then.
    activation_expiry: std::sync::atomic::AtomicI64,
    /// What this account exports, checked when an import is set up.
    pub exports: RwLock<Exports>,
    /// Reply subjects handed to this account's responders for requests that
    /// came in through a service import, mapped back to the requester.
    pub responses: Mutex<ahash::AHashMap<Box<[u8]>, Arc<ResponseForward>>>,
    has_responses: AtomicBool,
    /// `_R_.<6 random chars>.`: the prefix of every reply subject above, so
    /// only publishes that start with it need a map lookup.
    pub reply_prefix: Box<str>,
    /// Limits from the config (`limits {}`) or the account JWT.
    pub limits: RwLock<AccountLimits>,
    /// The claims in force, for an account loaded from a JWT.
    pub claims: RwLock<Option<Arc<crate::jwt::AccountClaims>>>,
    /// Subject mappings applied to what clients publish here.
    mappings: RwLock<Arc<Mappings>>,
    has_mappings: AtomicBool,
    /// Live client connections bound to this account.
    pub num_conns: AtomicU64,
    /// The account's rate quota, shared by all its publishers (`None`:
    /// unlimited).
    quota: arc_swap::ArcSwapOption<RateBucket>,
    /// Per-user rate quotas of this account, by user name, shared by every
    /// connection of the user.
    user_quotas: Mutex<ahash::AHashMap<String, Arc<RateBucket>>>,
    /// Whether a quota recently held back one of its connections: the
    /// account's connections then run on the bulk lane.
    pub noisy: crate::quota::NoisyMark,
    /// Times this account's subscribers were full and made a publisher
    /// wait (flow control).
    pub stalls: AtomicU64,
    /// Time this account's publishers paused for full subscribers
    /// (nanoseconds).
    pub stalled_ns: AtomicU64,
    /// What the connections that were bound to this account did, added when
    /// each closes (monitoring adds the live connections' own counters).
    pub closed: ClosedTotals,
    /// What this account wants from other servers (route interest).
    pub interest: super::interest::Interest,
    /// Connections of this account on the other servers of the cluster, by
    /// server id (from their `SERVER.CONNS` events): `max_connections`
    /// counts them too, as nats-server does.
    remote_conns: Mutex<ahash::AHashMap<String, u64>>,
    /// The reply prefix is announced as interest (`_R_.<prefix>.>`) from the
    /// first request sent through a service import, so responses given on
    /// another server find their way back.
    reply_interest: AtomicBool,
}

fn first_token(subject: &[u8]) -> &[u8] {
    match memchr::memchr(b'.', subject) {
        Some(i) => &subject[..i],
        None => subject,
    }
}

/// One bit for a first token (FNV-1a folded to 6 bits).
#[inline]
fn head_bit(token: &[u8]) -> u64 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in token {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    1 << (h % 64)
}

/// The filter bits a forward on `subject` needs.
fn heads_of(subject: &str) -> u64 {
    match first_token(subject.as_bytes()) {
        b"*" | b">" => u64::MAX,
        tok => head_bit(tok),
    }
}

/// Which claims an account runs on, by issue time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimsVersion {
    /// `iat` of the claims in force (0 before any).
    pub iat: i64,
}

/// Per-account limits, as nats-server keeps them: negative ([`NO_LIMIT`])
/// means none, 0 means nothing is allowed (an account JWT without `conn`
/// admits nobody, one without `subs` lets nobody subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub max_connections: i64,
    /// Per connection, as in nats-server.
    pub max_subscriptions: i64,
    pub max_payload: i64,
    pub max_leafnodes: i64,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_connections: NO_LIMIT,
            max_subscriptions: NO_LIMIT,
            max_payload: NO_LIMIT,
            max_leafnodes: NO_LIMIT,
        }
    }
}

/// A count or size limit that is not set.
pub const NO_LIMIT: i64 = -1;

/// The tighter of two limits where negative means none (nats-server's
/// `minLimit`).
pub fn min_limit(a: i64, b: i64) -> i64 {
    match (a < 0, b < 0) {
        (true, _) => b,
        (_, true) => a,
        _ => a.min(b),
    }
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
            forwards: ArcSwap::from_pointee(Sublist::new(cache)),
            forward_heads: AtomicU64::new(0),
            forward_list: Mutex::new(Vec::new()),
            cache,
            claims_owner: Mutex::new(ClaimsVersion::default()),
            activation_expiry: std::sync::atomic::AtomicI64::new(0),
            exports: RwLock::new(Exports::default()),
            responses: Mutex::new(ahash::AHashMap::new()),
            has_responses: AtomicBool::new(false),
            reply_prefix: format!("_R_.{}.", super::imports::random_token(6)).into(),
            limits: RwLock::new(AccountLimits::default()),
            claims: RwLock::new(None),
            mappings: RwLock::new(Arc::new(Mappings::default())),
            has_mappings: AtomicBool::new(false),
            num_conns: AtomicU64::new(0),
            quota: arc_swap::ArcSwapOption::empty(),
            user_quotas: Mutex::new(ahash::AHashMap::new()),
            noisy: crate::quota::NoisyMark::default(),
            stalls: AtomicU64::new(0),
            stalled_ns: AtomicU64::new(0),
            closed: ClosedTotals::default(),
            interest: super::interest::Interest::default(),
            remote_conns: Mutex::new(ahash::AHashMap::new()),
            reply_interest: AtomicBool::new(false),
        }
    }

    /// Another server reported its number of connections of this account.
    pub fn set_remote_conns(&self, server_id: &str, conns: u64) {
        let mut m = self.remote_conns.lock();
        if conns == 0 {
            m.remove(server_id);
        } else {
            m.insert(server_id.to_owned(), conns);
        }
    }

    /// A server left the cluster: its connections no longer count.
    pub fn forget_remote_server(&self, server_id: &str) {
        self.remote_conns.lock().remove(server_id);
    }

    /// Connections of this account on the other servers.
    pub fn remote_conns(&self) -> u64 {
        self.remote_conns.lock().values().sum()
    }

    /// Adds a local client's subscription to the index and counts it as
    /// interest to announce to other servers.
    ///
    /// # Errors
    /// A subject the index refuses.
    pub fn insert_local_sub(
        &self,
        subject: &str,
        queue: Option<&str>,
        sub: SubRef,
    ) -> Result<(), SublistError> {
        self.sublist.insert(subject, queue, sub)?;
        self.interest.add(self, subject, queue, 1);
        Ok(())
    }

    /// Removes a local client's subscription (and its interest); false when
    /// it was not there.
    pub fn remove_local_sub(&self, subject: &str, queue: Option<&str>, sub: &SubRef) -> bool {
        let removed = self.sublist.remove(subject, queue, sub).is_ok();
        if removed {
            self.interest.add(self, subject, queue, -1);
        }
        removed
    }

    /// Whether anything besides local subscribers may receive messages
    /// published here (one relaxed load on the message path).
    #[inline]
    pub fn has_forwards(&self) -> bool {
        self.forward_heads.load(Ordering::Relaxed) != 0
    }

    /// Whether a forward may match `subject`: false means certainly none.
    #[inline]
    pub fn may_forward(&self, subject: &[u8]) -> bool {
        let heads = self.forward_heads.load(Ordering::Relaxed);
        heads != 0 && heads & head_bit(first_token(subject)) != 0
    }

    /// Whether publishes here may be renamed by a subject mapping (one
    /// relaxed load on the message path).
    #[inline]
    pub fn has_mappings(&self) -> bool {
        self.has_mappings.load(Ordering::Relaxed)
    }

    /// Where a message published on `subject` goes after this account's
    /// mappings.
    pub fn map_subject(&self, subject: &str) -> Mapped {
        self.mappings.read().select(subject)
    }

    /// Replaces this account's subject mappings.
    pub fn set_mappings(&self, mappings: Arc<Mappings>) {
        let any = !mappings.is_empty();
        *self.mappings.write() = mappings;
        self.has_mappings.store(any, Ordering::Relaxed);
    }

    /// The mappings in force (monitoring).
    pub fn mappings(&self) -> Arc<Mappings> {
        self.mappings.read().clone()
    }

    /// Notes when the first activation behind this account's imports
    /// expires (0 = none).
    pub fn set_activation_expiry(&self, at: i64) {
        self.activation_expiry.store(at, Ordering::Relaxed);
    }

    /// Whether an activation behind this account's imports has expired by
    /// `now` (unix seconds).
    pub fn activation_due(&self, now: i64) -> bool {
        let at = self.activation_expiry.load(Ordering::Relaxed);
        at > 0 && now >= at
    }

    /// The forward table in force.
    #[inline]
    pub fn forwards(&self) -> arc_swap::Guard<Arc<Sublist<Forward>>> {
        self.forwards.load()
    }

    /// Calls `f` with every forward's subject and forward.
    pub fn for_each_forward(&self, mut f: impl FnMut(&str, &Forward)) {
        for (subject, route) in self.forward_list.lock().iter() {
            f(subject, route);
        }
    }

    /// Changes the forwards in one step: `f` edits the list, a new table is
    /// built from it and swapped in. Publishers keep using the old table
    /// until the swap and never see a partial one.
    ///
    /// # Errors
    /// A subject the index refuses; nothing changes then.
    pub fn edit_forwards(
        &self,
        f: impl FnOnce(&mut Vec<(Box<str>, Forward)>),
    ) -> Result<(), SublistError> {
        let mut list = self.forward_list.lock();
        let mut next = list.clone();
        f(&mut next);
        let table = Sublist::new(self.cache);
        let mut heads = 0;
        for (subject, route) in &next {
            table.insert(subject, None, route.clone())?;
            heads |= heads_of(subject);
        }
        // Widen the filter before the swap and narrow it after, so no
        // publish skips a forward that is in the table it reads.
        self.forward_heads.fetch_or(heads, Ordering::Release);
        self.forwards.store(Arc::new(table));
        self.forward_heads.store(heads, Ordering::Release);
        // A stream export imported on this server needs the exporter's
        // messages from other servers too, and so do the server's handlers
        // that every member answers: their subjects are interest.
        let wanted = |route: &Forward| match route {
            Forward::Stream(_) => true,
            Forward::Internal(h) => h.cluster_wide,
            Forward::Service(_) => false,
        };
        for (subject, route) in list.iter() {
            if wanted(route) {
                self.interest.add(self, subject, None, -1);
            }
        }
        for (subject, route) in &next {
            if wanted(route) {
                self.interest.add(self, subject, None, 1);
            }
        }
        *list = next;
        Ok(())
    }

    /// Adds a forward on `subject`.
    pub fn add_forward(&self, subject: &str, route: Forward) -> Result<(), SublistError> {
        self.edit_forwards(|l| l.push((subject.into(), route)))
    }

    /// Removes every forward for which `drop_it` is true.
    pub fn remove_forwards(&self, mut drop_it: impl FnMut(&Forward) -> bool) {
        let _ = self.edit_forwards(|l| l.retain(|(_, r)| !drop_it(r)));
    }

    /// Whether some reply subjects of this account map back to requesters.
    #[inline]
    pub fn has_responses(&self) -> bool {
        self.has_responses.load(Ordering::Relaxed)
    }

    /// Remembers where a response to `reply` goes.
    pub fn add_response(&self, reply: Box<[u8]>, route: Arc<ResponseForward>) {
        if !self.reply_interest.load(Ordering::Relaxed)
            && !self.reply_interest.swap(true, Ordering::AcqRel)
        {
            let all = format!("{}>", self.reply_prefix);
            self.interest.add(self, &all, None, 1);
        }
        let mut m = self.responses.lock();
        m.insert(reply, route);
        self.has_responses.store(true, Ordering::Relaxed);
    }

    /// The requester a response on `subject` goes to; a singleton mapping is
    /// used up by this call.
    pub fn take_response(&self, subject: &[u8]) -> Option<Arc<ResponseForward>> {
        let mut m = self.responses.lock();
        let r = m.get(subject)?.clone();
        if r.single_use() {
            m.remove(subject);
        } else {
            r.touch();
        }
        if m.is_empty() {
            self.has_responses.store(false, Ordering::Relaxed);
        }
        Some(r)
    }

    /// Forgets a reply mapping (the request reached nobody) and returns it.
    pub fn remove_response(&self, reply: &[u8]) -> Option<Arc<ResponseForward>> {
        let mut m = self.responses.lock();
        let removed = m.remove(reply);
        if m.is_empty() {
            self.has_responses.store(false, Ordering::Relaxed);
        }
        removed
    }

    /// Drops reply mappings whose response time ran out, and measured ones
    /// whose requestor stopped listening for the answer. Returns the
    /// measured ones dropped, with why, for their latency reports.
    pub fn sweep_responses(
        &self,
        now: std::time::Instant,
    ) -> Vec<(Arc<ResponseForward>, super::latency::Status)> {
        use super::latency::Status;
        let mut failed = Vec::new();
        if !self.has_responses() {
            return failed;
        }
        let mut m = self.responses.lock();
        m.retain(|_, r| {
            let status = if r.expired(now) {
                Status::ServiceTimeout
            } else if r.tracking.is_some() && !r.requester.has_interest_bytes(&r.reply) {
                Status::RequestTimeout
            } else {
                return true;
            };
            if r.tracking.is_some() {
                failed.push((r.clone(), status));
            }
            false
        });
        if m.is_empty() {
            self.has_responses.store(false, Ordering::Relaxed);
        }
        failed
    }

    /// Whether anyone in this account listens on `subject`.
    fn has_interest_bytes(&self, subject: &[u8]) -> bool {
        std::str::from_utf8(subject).is_ok_and(|s| self.sublist.has_interest(s))
    }

    /// Number of live reply mappings (monitoring and tests).
    pub fn num_responses(&self) -> usize {
        self.responses.lock().len()
    }

    /// The account's rate quota, if it has one (read once per read batch).
    #[inline]
    pub fn quota(&self) -> Option<Arc<RateBucket>> {
        self.quota.load_full()
    }

    /// Sets or removes the account's rate quota; a changed quota keeps its
    /// bucket (and its throttled time), so publishers see the new rate at
    /// once.
    pub fn set_quota(&self, limit: Option<RateLimit>) {
        match (limit.filter(RateLimit::is_limited), self.quota.load_full()) {
            (None, _) => self.quota.store(None),
            (Some(l), Some(b)) => b.set_limit(l),
            (Some(l), None) => self.quota.store(Some(Arc::new(RateBucket::new(l)))),
        }
    }

    /// The shared bucket of `user`'s rate quota, created or updated to
    /// `limit`; `None` (and the bucket forgotten) without a quota.
    pub fn user_quota(&self, user: &str, limit: Option<RateLimit>) -> Option<Arc<RateBucket>> {
        let mut quotas = self.user_quotas.lock();
        let Some(limit) = limit.filter(RateLimit::is_limited) else {
            quotas.remove(user);
            return None;
        };
        let bucket = quotas
            .entry(user.to_owned())
            .or_insert_with(|| Arc::new(RateBucket::new(limit)))
            .clone();
        if bucket.limit() != limit {
            bucket.set_limit(limit);
        }
        Some(bucket)
    }

    /// Every user quota of this account (monitoring).
    pub fn user_quotas(&self) -> Vec<(String, Arc<RateBucket>)> {
        let mut v: Vec<_> = self
            .user_quotas
            .lock()
            .iter()
            .map(|(k, b)| (k.clone(), b.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Adds time a publisher of this account paused for full subscribers.
    pub fn record_pause(&self, waited: std::time::Duration) {
        self.stalled_ns
            .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn limits(&self) -> AccountLimits {
        *self.limits.read()
    }

    pub fn conns(&self) -> u64 {
        self.num_conns.load(Ordering::Relaxed)
    }
}

/// All accounts of a server, by name.
pub struct Registry {
    accounts: RwLock<HashMap<Arc<str>, Arc<Account>>>,
    /// The system account, when the server has one.
    system: RwLock<Option<Arc<Account>>>,
    cache: bool,
    /// Called with every account created after it is set (the server's
    /// per-account system imports), outside the registry's locks.
    on_create: RwLock<Option<OnCreate>>,
    /// Installed on every account, existing and new (the cluster's routes).
    interest_hook: RwLock<Option<Arc<dyn super::interest::InterestHook>>>,
}

/// See [`Registry::on_create`].
pub type OnCreate = Arc<dyn Fn(&Arc<Account>) + Send + Sync>;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("accounts", &self.accounts.read().len())
            .finish()
    }
}

impl Registry {
    /// A registry holding the global and system accounts.
    pub fn new(cache: bool) -> Self {
        let r = Registry {
            accounts: RwLock::new(HashMap::new()),
            system: RwLock::new(None),
            cache,
            on_create: RwLock::new(None),
            interest_hook: RwLock::new(None),
        };
        r.get_or_create(GLOBAL_ACCOUNT);
        let sys = r.get_or_create(SYSTEM_ACCOUNT);
        *r.system.write() = Some(sys);
        r
    }

    /// The system account (`None` with `no_system_account`).
    pub fn system(&self) -> Option<Arc<Account>> {
        self.system.read().clone()
    }

    /// Makes `acc` the system account (or none).
    pub fn set_system(&self, acc: Option<Arc<Account>>) {
        *self.system.write() = acc;
    }

    /// Whether `acc` is the system account.
    pub fn is_system(&self, acc: &Account) -> bool {
        self.system
            .read()
            .as_ref()
            .is_some_and(|s| std::ptr::eq(&**s, acc))
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
        let mut created = false;
        // The hook lock is taken first here and in `set_interest_hook`, so
        // an account is either created before the hook's installation walks
        // the accounts or sees the hook itself.
        let hook_guard = self.interest_hook.read();
        let hook = hook_guard.clone();
        let acc = self
            .accounts
            .write()
            .entry(name.into())
            .or_insert_with(|| {
                created = true;
                let acc = Account::new(name, self.cache);
                if let Some(h) = hook {
                    acc.interest.set_hook(h);
                }
                Arc::new(acc)
            })
            .clone();
        drop(hook_guard);
        if created {
            let hook = self.on_create.read().clone();
            if let Some(hook) = hook {
                hook(&acc);
            }
        }
        acc
    }

    /// Runs `hook` for every existing account and every account created
    /// from now on.
    pub fn on_create(&self, hook: OnCreate) {
        *self.on_create.write() = Some(hook.clone());
        for acc in self.all() {
            hook(&acc);
        }
    }

    /// Installs `hook` on every account, existing and created from now on.
    pub fn set_interest_hook(&self, hook: Arc<dyn super::interest::InterestHook>) {
        let mut installed = self.interest_hook.write();
        *installed = Some(hook.clone());
        for acc in self.accounts.read().values() {
            acc.interest.set_hook(hook.clone());
        }
    }

    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut v: Vec<_> = self.accounts.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::imports::{Forward, InternalForward};

    fn internal() -> Forward {
        Forward::Internal(Arc::new(InternalForward {
            name: "test",
            handler: Box::new(|_, _, _, _| {}),
            cluster_wide: false,
        }))
    }

    #[test]
    fn the_forward_filter_lets_matching_heads_through() {
        let a = Account::new("A", true);
        assert!(!a.may_forward(b"foo.bar"));
        a.add_forward("$SYS.REQ.USER.INFO", internal()).unwrap();
        assert!(a.may_forward(b"$SYS.REQ.USER.INFO"));
        assert!(a.may_forward(b"$SYS"));
        if head_bit(b"foo") != head_bit(b"$SYS") {
            assert!(!a.may_forward(b"foo.bar"));
        }
        a.add_forward("*.x", internal()).unwrap();
        assert!(a.may_forward(b"foo.bar"));
        a.remove_forwards(|_| true);
        assert!(!a.has_forwards() && !a.may_forward(b"$SYS.REQ.USER.INFO"));
    }
}
