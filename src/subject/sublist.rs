//! The subscription index consulted by every publish.
//!
//! Layout follows nats-server's sublist: a trie with one `Level` per token
//! position. Each level maps literal tokens to `Node`s and keeps the `*`
//! and `>` children apart, so matching a literal subject is one hash lookup
//! per token plus a walk into the (usually absent) wildcard children. Each
//! node holds the plain subscriptions and the queue subscriptions (grouped by
//! queue name) whose subject ends at that node.
//!
//! On top of the trie sits a bounded result cache keyed by the published
//! subject. A hit returns the very same `Arc<SublistResult>` without
//! allocating. Inserts and removals invalidate exactly the cached subjects the
//! changed subscription could match, and bump a generation counter so that
//! callers can keep their own (e.g. per-connection) caches and detect
//! staleness cheaply.
//!
//! Concurrency: the struct is shared as `Arc<Sublist<T>>`; every method takes
//! `&self`. The trie is behind a `parking_lot::RwLock`, the cache behind its
//! own `RwLock` so cache hits never touch the trie lock. Lock order is always
//! trie, then cache.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ahash::AHashMap;
use parking_lot::RwLock;

use super::validate::{is_literal, is_valid_subject, subject_matches, FWC, PWC, TSEP};

/// Maximum number of cached match results. When full, about half of the
/// entries are evicted at random so a burst of one-off subjects cannot pin
/// memory, while hot subjects are quickly re-cached.
pub const CACHE_MAX: usize = 4096;

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
    /// Queue subscriptions grouped by queue name: one entry per group. A group
    /// collects members from every matching pattern (`foo.*` and `foo.bar`
    /// subscribers of queue `q` share one group for a publish to `foo.bar`),
    /// so the caller picks exactly one member per entry.
    pub qsubs: Vec<(Arc<str>, Vec<T>)>,
}

impl<T> SublistResult<T> {
    fn new() -> Self {
        SublistResult {
            psubs: Vec::new(),
            qsubs: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }

    /// Plain subscriptions plus queue groups: the number of deliveries a
    /// publish fans out to (the `fanout` figure of nats-server's /subsz).
    pub fn fanout(&self) -> usize {
        self.psubs.len() + self.qsubs.len()
    }
}

impl<T> Default for SublistResult<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Counters in the shape of nats-server's `/subsz` JSON.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SublistStats {
    pub num_subscriptions: u32,
    pub num_cache: u32,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u32,
    pub avg_fanout: f64,
}

/// Where one subscription subject ends: the items registered on it.
struct Node<T> {
    /// The level for the following token, absent when nothing continues.
    next: Option<Box<Level<T>>>,
    psubs: Vec<T>,
    /// Queue groups; usually very few per node, so a vector beats a map.
    qsubs: Vec<(Arc<str>, Vec<T>)>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            next: None,
            psubs: Vec::new(),
            qsubs: Vec::new(),
        }
    }

    fn has_subs(&self) -> bool {
        !self.psubs.is_empty() || !self.qsubs.is_empty()
    }

    /// Prunable: no items and nothing below.
    fn is_empty(&self) -> bool {
        !self.has_subs() && self.next.is_none()
    }
}

/// One token position: literal children plus the two wildcard children.
struct Level<T> {
    nodes: AHashMap<Box<str>, Node<T>>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            nodes: AHashMap::new(),
            pwc: None,
            fwc: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    /// Number of children.
    fn len(&self) -> usize {
        self.nodes.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    fn children(&self) -> impl Iterator<Item = (&str, &Node<T>)> {
        self.nodes
            .iter()
            .map(|(k, n)| (&**k, n))
            .chain(self.pwc.as_deref().map(|n| (PWC, n)))
            .chain(self.fwc.as_deref().map(|n| (FWC, n)))
    }

    /// The child for `tok`, created if missing (insert path only).
    fn child_or_insert(&mut self, tok: &str) -> &mut Node<T> {
        match tok {
            PWC => self.pwc.get_or_insert_with(|| Box::new(Node::new())),
            FWC => self.fwc.get_or_insert_with(|| Box::new(Node::new())),
            _ => {
                if !self.nodes.contains_key(tok) {
                    self.nodes.insert(tok.into(), Node::new());
                }
                self.nodes.get_mut(tok).expect("just inserted")
            }
        }
    }

    fn child(&self, tok: &str) -> Option<&Node<T>> {
        match tok {
            PWC => self.pwc.as_deref(),
            FWC => self.fwc.as_deref(),
            _ => self.nodes.get(tok),
        }
    }

    fn child_mut(&mut self, tok: &str) -> Option<&mut Node<T>> {
        match tok {
            PWC => self.pwc.as_deref_mut(),
            FWC => self.fwc.as_deref_mut(),
            _ => self.nodes.get_mut(tok),
        }
    }

    fn remove_child(&mut self, tok: &str) {
        match tok {
            PWC => self.pwc = None,
            FWC => self.fwc = None,
            _ => {
                self.nodes.remove(tok);
            }
        }
    }

    /// Move the levels below this one's children onto `stack`. The levels
    /// are already boxed in the trie; keeping the boxes avoids moving them.
    #[allow(clippy::vec_box)]
    fn detach_children(&mut self, stack: &mut Vec<Box<Level<T>>>) {
        let nodes = self
            .nodes
            .values_mut()
            .chain(self.pwc.as_deref_mut())
            .chain(self.fwc.as_deref_mut());
        for n in nodes {
            if let Some(l) = n.next.take() {
                stack.push(l);
            }
        }
    }
}

/// Iterative teardown. The trie is as deep as the longest subscription
/// subject, and the default recursive drop would use one stack frame per
/// token; with a large `max_control_line` that could overflow a task stack.
impl<T> Drop for Level<T> {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.detach_children(&mut stack);
        while let Some(mut l) = stack.pop() {
            l.detach_children(&mut stack);
            // `l` drops here with no grandchildren attached.
        }
    }
}

/// Split off the first token: `("foo", Some("bar.baz"))` for `foo.bar.baz`.
#[inline]
fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.find(TSEP) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// A publish subject the trie cannot be walked with. Only empty tokens are
/// rejected (like nats-server's match); wildcard tokens are looked up as
/// literal text and whitespace is the protocol layer's business.
#[inline]
fn has_empty_token(s: &str) -> bool {
    s.is_empty() || s.starts_with(TSEP) || s.ends_with(TSEP) || s.contains("..")
}

fn add_node_to_result<T: Clone>(node: &Node<T>, out: &mut SublistResult<T>) {
    out.psubs.extend_from_slice(&node.psubs);
    for (name, items) in &node.qsubs {
        match out
            .qsubs
            .iter_mut()
            .find(|(n, _)| Arc::ptr_eq(n, name) || **n == **name)
        {
            Some((_, members)) => members.extend_from_slice(items),
            None => out.qsubs.push((name.clone(), items.clone())),
        }
    }
}

/// Walk the trie for the (non-empty-token) publish `subject`, calling
/// `visit` on every node whose subscriptions match; stop early when `visit`
/// returns true. Literal children are followed in place; `*` branches are
/// deferred on an explicit stack (which only allocates if a `*` subscription
/// continues past this level), so depth never costs call-stack space.
fn walk_matches<'a, T>(
    root: &'a Level<T>,
    subject: &'a str,
    mut visit: impl FnMut(&'a Node<T>) -> bool,
) -> bool {
    let mut pending: Vec<(&'a Level<T>, &'a str)> = Vec::new();
    let mut cur = Some((root, subject));
    while let Some((mut level, mut rest)) = cur.take().or_else(|| pending.pop()) {
        loop {
            let (tok, next) = split_first(rest);
            // `>` here swallows this token and everything after it.
            if let Some(f) = &level.fwc {
                if visit(f) {
                    return true;
                }
            }
            match next {
                None => {
                    if let Some(n) = level.nodes.get(tok) {
                        if visit(n) {
                            return true;
                        }
                    }
                    if let Some(p) = &level.pwc {
                        if visit(p) {
                            return true;
                        }
                    }
                    break;
                }
                Some(r) => {
                    if let Some(pl) = level.pwc.as_ref().and_then(|p| p.next.as_deref()) {
                        pending.push((pl, r));
                    }
                    match level.nodes.get(tok).and_then(|n| n.next.as_deref()) {
                        Some(l) => {
                            level = l;
                            rest = r;
                        }
                        None => break,
                    }
                }
            }
        }
    }
    false
}

/// Remove one registration of `item` and prune the nodes left empty.
///
/// Iterative in three passes over the path (find and remove; find the
/// shallowest node from which the rest of the path is now empty; cut there)
/// because safe Rust cannot keep mutable references to every ancestor, and
/// recursion would cost a stack frame per token.
fn remove_item<T: PartialEq>(
    root: &mut Level<T>,
    subject: &str,
    queue: Option<&str>,
    item: &T,
) -> Result<(), SublistError> {
    // Pass 1: locate the node and take the item out.
    let mut level = &mut *root;
    let mut rest = subject;
    let node = loop {
        let (tok, next) = split_first(rest);
        let node = level.child_mut(tok).ok_or(SublistError::NotFound)?;
        match next {
            None => break node,
            Some(r) => {
                rest = r;
                level = node.next.as_deref_mut().ok_or(SublistError::NotFound)?;
            }
        }
    };
    match queue {
        None => {
            let i = node
                .psubs
                .iter()
                .position(|x| x == item)
                .ok_or(SublistError::NotFound)?;
            node.psubs.swap_remove(i);
        }
        Some(q) => {
            let g = node
                .qsubs
                .iter()
                .position(|(n, _)| &**n == q)
                .ok_or(SublistError::NotFound)?;
            let members = &mut node.qsubs[g].1;
            let i = members
                .iter()
                .position(|x| x == item)
                .ok_or(SublistError::NotFound)?;
            members.swap_remove(i);
            if members.is_empty() {
                node.qsubs.swap_remove(g);
            }
        }
    }
    if !node.is_empty() {
        return Ok(());
    }

    // Pass 2: the node at depth d disappears iff every node on the path
    // below it has no subscriptions and no other children. `cut` is the
    // shallowest such depth.
    let mut cut = 0usize;
    let mut depth = 0usize;
    let mut level = &*root;
    let mut rest = subject;
    while let (tok, Some(r)) = split_first(rest) {
        let node = level.child(tok).expect("path checked in pass 1");
        let below = node.next.as_deref().expect("path checked in pass 1");
        if node.has_subs() || below.len() != 1 {
            cut = depth + 1;
        }
        level = below;
        rest = r;
        depth += 1;
    }

    // Pass 3: detach the dead chain at `cut`. If that empties the level
    // (its parent node survives only because it has subscriptions of its
    // own), drop the level too.
    if cut == 0 {
        root.remove_child(split_first(subject).0);
        return Ok(());
    }
    let mut level = &mut *root;
    let mut rest = subject;
    for _ in 0..cut - 1 {
        let (tok, next) = split_first(rest);
        let node = level.child_mut(tok).expect("path checked in pass 1");
        level = node.next.as_deref_mut().expect("path checked in pass 1");
        rest = next.expect("path checked in pass 1");
    }
    let (tok, next) = split_first(rest);
    let parent = level.child_mut(tok).expect("path checked in pass 1");
    let below = parent.next.as_deref_mut().expect("path checked in pass 1");
    below.remove_child(split_first(next.expect("path checked in pass 1")).0);
    if below.is_empty() {
        parent.next = None;
    }
    Ok(())
}

/// Visit every node with the subject that leads to it (depth-first with an
/// explicit stack, for the same stack-depth reason as the `Drop` impl).
fn for_each_node<T>(root: &Level<T>, mut f: impl FnMut(&str, &Node<T>)) {
    let mut stack: Vec<(&Level<T>, String)> = vec![(root, String::new())];
    while let Some((level, prefix)) = stack.pop() {
        for (tok, n) in level.children() {
            let mut subject = String::with_capacity(prefix.len() + 1 + tok.len());
            subject.push_str(&prefix);
            if !subject.is_empty() {
                subject.push(TSEP);
            }
            subject.push_str(tok);
            f(&subject, n);
            if let Some(l) = &n.next {
                stack.push((l, subject));
            }
        }
    }
}

/// Pruning invariant: every node has subscriptions or a non-empty level
/// below it, and no level below the root is empty.
#[cfg(test)]
fn check_pruned<T>(root: &Level<T>) {
    for_each_node(root, |subject, n| {
        assert!(!n.is_empty(), "empty node left at {subject}");
        if let Some(l) = &n.next {
            assert!(!l.is_empty(), "empty level left below {subject}");
        }
    });
}

#[cfg(test)]
fn count_nodes<T>(root: &Level<T>) -> usize {
    let mut n = 0;
    for_each_node(root, |_, _| n += 1);
    n
}

type Cache<T> = AHashMap<Box<str>, Arc<SublistResult<T>>>;

/// Subscription index; items are removed by `PartialEq`.
///
/// Each `insert` adds one subscription, even if an equal item is already
/// registered on the same subject and queue (the caller dedups by sid); each
/// `remove` takes one away. Removal scans the items of one node linearly,
/// which is cheap as long as a single subject does not hold a huge number of
/// subscriptions.
pub struct Sublist<T> {
    root: RwLock<Level<T>>,
    /// `None` when the cache is disabled (option `no_sublist_cache`).
    cache: Option<RwLock<Cache<T>>>,
    /// Shared answer for publish subjects that can never match.
    empty: Arc<SublistResult<T>>,
    generation: AtomicU64,
    count: AtomicUsize,
    inserts: AtomicU64,
    removes: AtomicU64,
    matches: AtomicU64,
    cache_hits: AtomicU64,
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Sublist<T> {
    /// A new, empty index. `cache == false` disables the result cache; every
    /// match then walks the trie and allocates a fresh result.
    pub fn new(cache: bool) -> Self {
        Sublist {
            root: RwLock::new(Level::new()),
            cache: cache.then(|| RwLock::new(AHashMap::new())),
            empty: Arc::new(SublistResult::new()),
            generation: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            matches: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    /// Register `item` on the subscription subject `subject`, in queue group
    /// `queue` if given. Invalid subjects and empty queue names are rejected.
    pub fn insert(&self, subject: &str, queue: Option<&str>, item: T) -> Result<(), SublistError> {
        if !is_valid_subject(subject) || queue.is_some_and(str::is_empty) {
            return Err(SublistError::InvalidSubject);
        }
        let mut root = self.root.write();
        let mut level: &mut Level<T> = &mut root;
        let mut rest = subject;
        let node = loop {
            let (tok, next) = split_first(rest);
            let node = level.child_or_insert(tok);
            match next {
                None => break node,
                Some(r) => {
                    rest = r;
                    level = node.next.get_or_insert_with(|| Box::new(Level::new()));
                }
            }
        };
        match queue {
            None => node.psubs.push(item),
            Some(q) => match node.qsubs.iter_mut().find(|(n, _)| &**n == q) {
                Some((_, members)) => members.push(item),
                None => node.qsubs.push((Arc::from(q), vec![item])),
            },
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.changed(subject);
        drop(root);
        Ok(())
    }

    /// Remove one registration of `item` (compared with `PartialEq`) from
    /// `subject`/`queue`. Nodes left empty are pruned so churn does not leak.
    pub fn remove(&self, subject: &str, queue: Option<&str>, item: &T) -> Result<(), SublistError> {
        if !is_valid_subject(subject) {
            return Err(SublistError::NotFound);
        }
        let mut root = self.root.write();
        remove_item(&mut root, subject, queue, item)?;
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.removes.fetch_add(1, Ordering::Relaxed);
        self.changed(subject);
        drop(root);
        Ok(())
    }

    /// Called with the trie write lock held after `pattern` gained or lost a
    /// subscription: drop the cached results it could affect, then bump the
    /// generation. The bump comes *after* the invalidation so that anyone
    /// who reads the new generation and then consults the cache cannot see a
    /// stale entry (see [`Sublist::generation`]).
    fn changed(&self, pattern: &str) {
        if let Some(cache) = &self.cache {
            let mut c = cache.write();
            if !c.is_empty() {
                if is_literal(pattern) {
                    // A literal subscription matches only that exact subject.
                    c.remove(pattern);
                } else {
                    c.retain(|k, _| !subject_matches(pattern, k));
                }
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// All subscriptions matching the published `subject`.
    ///
    /// Wildcard tokens in a publish subject are treated as literal text, so a
    /// publish to `foo.*` reaches `foo.*`, `foo.>`, `*.*` and `>` but not
    /// `foo.bar`. Subjects with empty tokens match nothing. On a cache hit the
    /// same `Arc` is returned each time, without allocating.
    pub fn match_subject(&self, subject: &str) -> Arc<SublistResult<T>> {
        self.match_with_generation(subject).1
    }

    /// Like [`Sublist::match_subject`], also returning a generation the
    /// result is known to be current for: if [`Sublist::generation`] still
    /// returns that value later, the result is still exact. This is what a
    /// per-connection cache should store.
    pub fn match_with_generation(&self, subject: &str) -> (u64, Arc<SublistResult<T>>) {
        self.matches.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            // Read the generation before looking in the cache: writers
            // invalidate before bumping, so an entry seen after reading `g`
            // is valid for `g` (or a later generation, which only makes the
            // caller recheck sooner).
            let g = self.generation.load(Ordering::Acquire);
            if let Some(r) = cache.read().get(subject) {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return (g, r.clone());
            }
        }
        if has_empty_token(subject) {
            return (self.generation.load(Ordering::Acquire), self.empty.clone());
        }
        let root = self.root.read();
        // Stable while we hold the read lock: writers bump under the write lock.
        let g = self.generation.load(Ordering::Acquire);
        let mut res = SublistResult::new();
        walk_matches(&root, subject, |n| {
            add_node_to_result(n, &mut res);
            false
        });
        let res = Arc::new(res);
        if let Some(cache) = &self.cache {
            // Still holding the trie read lock, so no writer can have changed
            // the trie since we matched: the entry cannot be stale.
            let mut c = cache.write();
            if c.len() >= CACHE_MAX {
                evict_half(&mut c);
            }
            c.insert(subject.into(), res.clone());
        }
        drop(root);
        (g, res)
    }

    /// Is there at least one subscription matching the published `subject`?
    /// Cheaper than a match: no result is built and the walk stops early.
    pub fn has_interest(&self, subject: &str) -> bool {
        if let Some(cache) = &self.cache {
            if let Some(r) = cache.read().get(subject) {
                return !r.is_empty();
            }
        }
        if has_empty_token(subject) {
            return false;
        }
        walk_matches(&self.root.read(), subject, Node::has_subs)
    }

    /// Changes on every successful insert and remove. A result obtained from
    /// [`Sublist::match_subject`] *after* reading generation `g` is exact for
    /// as long as `generation()` keeps returning `g`; read the generation
    /// first, or use [`Sublist::match_with_generation`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions (plain and queue).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Every registered item, in no particular order (for monitoring).
    pub fn all(&self) -> Vec<T> {
        let root = self.root.read();
        let mut out = Vec::with_capacity(self.count());
        for_each_node(&root, |_, n| {
            out.extend_from_slice(&n.psubs);
            for (_, members) in &n.qsubs {
                out.extend_from_slice(members);
            }
        });
        out
    }

    /// Visit every subscription with its subject and queue name, e.g. to
    /// replay interest to a new route or to list subscriptions in
    /// monitoring. The trie read lock is held throughout, so `f` must not
    /// call back into this sublist's `insert`/`remove`.
    pub fn for_each_sub(&self, mut f: impl FnMut(&str, Option<&str>, &T)) {
        let root = self.root.read();
        for_each_node(&root, |subject, n| {
            for it in &n.psubs {
                f(subject, None, it);
            }
            for (q, members) in &n.qsubs {
                for it in members {
                    f(subject, Some(q), it);
                }
            }
        });
    }

    /// Number of cached match results (0 when the cache is disabled).
    pub fn cache_len(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.read().len())
    }

    /// Drop all cached results (does not change the generation: the trie did
    /// not change, so callers' caches stay exact).
    pub fn clear_cache(&self) {
        if let Some(c) = &self.cache {
            c.write().clear();
        }
    }

    /// `/subsz` statistics; fanout figures are computed over cached results,
    /// as nats-server does.
    pub fn stats(&self) -> SublistStats {
        let matches = self.matches.load(Ordering::Relaxed);
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let mut st = SublistStats {
            num_subscriptions: u32::try_from(self.count()).unwrap_or(u32::MAX),
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches: matches,
            cache_hit_rate: if matches > 0 {
                hits as f64 / matches as f64
            } else {
                0.0
            },
            ..Default::default()
        };
        if let Some(c) = &self.cache {
            let c = c.read();
            st.num_cache = u32::try_from(c.len()).unwrap_or(u32::MAX);
            let mut total = 0usize;
            for r in c.values() {
                let f = r.fanout();
                total += f;
                st.max_fanout = st.max_fanout.max(u32::try_from(f).unwrap_or(u32::MAX));
            }
            if !c.is_empty() {
                st.avg_fanout = total as f64 / c.len() as f64;
            }
        }
        st
    }

    #[cfg(test)]
    fn node_count(&self) -> usize {
        count_nodes(&self.root.read())
    }
}

/// Evict roughly half of the cache, chosen at random so no subject is
/// systematically favoured by its hash position.
fn evict_half<T>(c: &mut Cache<T>) {
    c.retain(|_, _| rand::random::<bool>());
    // Extremely unlikely, but guarantee progress if the coin kept everything.
    if c.len() >= CACHE_MAX {
        let mut excess = c.len() - CACHE_MAX / 2;
        c.retain(|_, _| {
            if excess > 0 {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }

    /// psubs sorted; queue groups as name -> sorted members.
    type Canon = (Vec<u32>, BTreeMap<String, Vec<u32>>);

    fn canon(r: &SublistResult<u32>) -> Canon {
        let mut q = BTreeMap::new();
        for (name, members) in &r.qsubs {
            let prev = q.insert(name.to_string(), sorted(members));
            assert!(prev.is_none(), "queue group {name} appears twice");
            assert!(!members.is_empty(), "empty queue group {name}");
        }
        (sorted(&r.psubs), q)
    }

    fn psubs(sl: &Sublist<u32>, subject: &str) -> Vec<u32> {
        sorted(&sl.match_subject(subject).psubs)
    }

    #[test]
    fn insert_and_match_literal() {
        let sl = Sublist::new(true);
        sl.insert("foo", None, 1).unwrap();
        sl.insert("foo.bar", None, 2).unwrap();
        sl.insert("foo.bar", None, 3).unwrap();
        assert_eq!(sl.count(), 3);
        assert_eq!(psubs(&sl, "foo"), vec![1]);
        assert_eq!(psubs(&sl, "foo.bar"), vec![2, 3]);
        assert!(sl.match_subject("foo.baz").is_empty());
        assert!(sl.match_subject("bar").is_empty());
        assert!(sl.match_subject("foo.bar.baz").is_empty());
    }

    #[test]
    fn wildcards() {
        let sl = Sublist::new(true);
        sl.insert("foo.*", None, 1).unwrap();
        sl.insert("foo.>", None, 2).unwrap();
        sl.insert(">", None, 3).unwrap();
        sl.insert("*.bar", None, 4).unwrap();
        sl.insert("*.*.baz", None, 5).unwrap();
        sl.insert("foo.bar", None, 6).unwrap();
        sl.insert("*", None, 7).unwrap();
        assert_eq!(psubs(&sl, "foo.bar"), vec![1, 2, 3, 4, 6]);
        assert_eq!(psubs(&sl, "foo.baz"), vec![1, 2, 3]);
        assert_eq!(psubs(&sl, "foo"), vec![3, 7]);
        assert_eq!(psubs(&sl, "foo.bar.baz"), vec![2, 3, 5]);
        assert_eq!(psubs(&sl, "x.y.baz"), vec![3, 5]);
        assert_eq!(psubs(&sl, "x.bar"), vec![3, 4]);
        assert_eq!(psubs(&sl, "x.y.z.w"), vec![3]);
    }

    #[test]
    fn full_wildcard_needs_a_token() {
        let sl = Sublist::new(true);
        sl.insert("foo.>", None, 1).unwrap();
        assert!(sl.match_subject("foo").is_empty());
        assert!(!sl.has_interest("foo"));
        assert_eq!(psubs(&sl, "foo.a"), vec![1]);
        assert!(sl.has_interest("foo.a.b"));
    }

    #[test]
    fn wildcard_publish_is_literal() {
        let sl = Sublist::new(true);
        for (i, s) in ["foo.*", "foo.>", ">", "*.*", "foo.bar", "foo.bar.>"]
            .iter()
            .enumerate()
        {
            sl.insert(s, None, i as u32).unwrap();
        }
        assert_eq!(psubs(&sl, "foo.*"), vec![0, 1, 2, 3]);
        assert_eq!(psubs(&sl, "foo.>"), vec![0, 1, 2, 3]);
        assert_eq!(psubs(&sl, "*"), vec![2]);
        assert_eq!(psubs(&sl, "foo.bar.*"), vec![1, 2, 5]);
    }

    #[test]
    fn queue_groups_merge_across_patterns() {
        let sl = Sublist::new(true);
        sl.insert("foo.bar", Some("q1"), 1).unwrap();
        sl.insert("foo.*", Some("q1"), 2).unwrap();
        sl.insert("foo.>", Some("q2"), 3).unwrap();
        sl.insert("foo.bar", Some("q2"), 4).unwrap();
        sl.insert("foo.bar", None, 5).unwrap();
        let r = sl.match_subject("foo.bar");
        let (p, q) = canon(&r);
        assert_eq!(p, vec![5]);
        assert_eq!(q.len(), 2);
        assert_eq!(q["q1"], vec![1, 2]);
        assert_eq!(q["q2"], vec![3, 4]);
        assert_eq!(r.fanout(), 3);

        let (p, q) = canon(&sl.match_subject("foo.baz"));
        assert!(p.is_empty());
        assert_eq!(q["q1"], vec![2]);
        assert_eq!(q["q2"], vec![3]);

        sl.remove("foo.bar", Some("q1"), &1).unwrap();
        sl.remove("foo.*", Some("q1"), &2).unwrap();
        let (_, q) = canon(&sl.match_subject("foo.bar"));
        assert!(!q.contains_key("q1"));
        assert_eq!(q["q2"], vec![3, 4]);
    }

    #[test]
    fn remove_errors_and_queue_distinction() {
        let sl = Sublist::new(true);
        sl.insert("foo", Some("q"), 1).unwrap();
        assert_eq!(sl.remove("foo", None, &1), Err(SublistError::NotFound));
        assert_eq!(sl.remove("foo", Some("r"), &1), Err(SublistError::NotFound));
        assert_eq!(sl.remove("foo", Some("q"), &2), Err(SublistError::NotFound));
        assert_eq!(sl.remove("bar", Some("q"), &1), Err(SublistError::NotFound));
        assert_eq!(
            sl.remove("foo.bar", Some("q"), &1),
            Err(SublistError::NotFound)
        );
        assert_eq!(
            sl.remove("foo..", Some("q"), &1),
            Err(SublistError::NotFound)
        );
        assert_eq!(sl.remove("*", Some("q"), &1), Err(SublistError::NotFound));
        assert_eq!(sl.count(), 1);
        sl.remove("foo", Some("q"), &1).unwrap();
        assert_eq!(sl.remove("foo", Some("q"), &1), Err(SublistError::NotFound));
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn invalid_inserts() {
        let sl = Sublist::new(true);
        for s in [
            "",
            "foo.",
            ".foo",
            "foo..bar",
            "foo.>.bar",
            "foo bar",
            "a\tb",
        ] {
            assert_eq!(
                sl.insert(s, None, 1),
                Err(SublistError::InvalidSubject),
                "{s:?}"
            );
        }
        assert_eq!(
            sl.insert("foo", Some(""), 1),
            Err(SublistError::InvalidSubject)
        );
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.generation(), 0);
        assert_eq!(sl.node_count(), 0);
    }

    #[test]
    fn invalid_publish_subjects_match_nothing() {
        let sl = Sublist::new(true);
        sl.insert(">", None, 1).unwrap();
        for s in ["", ".", "foo.", ".foo", "foo..bar"] {
            assert!(sl.match_subject(s).is_empty(), "{s:?}");
            assert!(!sl.has_interest(s), "{s:?}");
        }
        assert_eq!(sl.cache_len(), 0, "invalid subjects are not cached");
    }

    #[test]
    fn duplicate_items_are_counted_separately() {
        let sl = Sublist::new(true);
        sl.insert("foo", None, 7).unwrap();
        sl.insert("foo", None, 7).unwrap();
        assert_eq!(sl.count(), 2);
        assert_eq!(psubs(&sl, "foo"), vec![7, 7]);
        sl.remove("foo", None, &7).unwrap();
        assert_eq!(psubs(&sl, "foo"), vec![7]);
        sl.remove("foo", None, &7).unwrap();
        assert!(sl.match_subject("foo").is_empty());
    }

    #[test]
    fn cache_hit_returns_same_arc() {
        let sl = Sublist::new(true);
        sl.insert("foo.*", None, 1).unwrap();
        let a = sl.match_subject("foo.bar");
        let b = sl.match_subject("foo.bar");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(sl.cache_len(), 1);
        // Misses are cached too.
        let e1 = sl.match_subject("nope");
        let e2 = sl.match_subject("nope");
        assert!(e1.is_empty());
        assert!(Arc::ptr_eq(&e1, &e2));
        let st = sl.stats();
        assert_eq!(st.num_matches, 4);
        assert!((st.cache_hit_rate - 0.5).abs() < 1e-9);
        assert_eq!(st.num_cache, 2);
        assert_eq!(st.max_fanout, 1);
    }

    #[test]
    fn cache_invalidated_precisely() {
        let sl = Sublist::new(true);
        sl.insert("foo.bar", None, 1).unwrap();
        let a = sl.match_subject("foo.bar");
        let other = sl.match_subject("baz");
        // A literal insert elsewhere leaves both entries alone.
        sl.insert("qux", None, 2).unwrap();
        assert!(Arc::ptr_eq(&a, &sl.match_subject("foo.bar")));
        // A wildcard that matches foo.bar drops only that entry.
        sl.insert("foo.*", None, 3).unwrap();
        let b = sl.match_subject("foo.bar");
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(sorted(&b.psubs), vec![1, 3]);
        assert!(Arc::ptr_eq(&other, &sl.match_subject("baz")));
        // Literal insert on the cached subject.
        sl.insert("baz", None, 4).unwrap();
        assert_eq!(psubs(&sl, "baz"), vec![4]);
        // Removal invalidates too.
        sl.remove("foo.*", None, &3).unwrap();
        assert_eq!(psubs(&sl, "foo.bar"), vec![1]);
        sl.remove("baz", None, &4).unwrap();
        assert!(sl.match_subject("baz").is_empty());
        // Wildcard-published subjects in the cache are invalidated like the
        // trie would match them.
        let w = sl.match_subject("foo.*");
        assert!(w.is_empty());
        sl.insert("*.*", None, 5).unwrap();
        assert_eq!(psubs(&sl, "foo.*"), vec![5]);
        sl.insert("foo.bar", None, 6).unwrap();
        assert_eq!(psubs(&sl, "foo.*"), vec![5]);
    }

    #[test]
    fn has_interest_uses_cache_and_trie() {
        let sl = Sublist::new(true);
        assert!(!sl.has_interest("foo"));
        sl.insert("foo.*.baz", Some("q"), 1).unwrap();
        assert!(sl.has_interest("foo.bar.baz"));
        assert!(!sl.has_interest("foo.bar"));
        assert!(!sl.has_interest("foo.bar.baz.x"));
        let _ = sl.match_subject("foo.bar.baz");
        assert!(sl.has_interest("foo.bar.baz"));
        sl.remove("foo.*.baz", Some("q"), &1).unwrap();
        assert!(!sl.has_interest("foo.bar.baz"));
    }

    #[test]
    fn generation_changes_on_every_mutation() {
        let sl = Sublist::new(true);
        let g0 = sl.generation();
        sl.insert("foo", None, 1).unwrap();
        let g1 = sl.generation();
        assert_ne!(g0, g1);
        sl.insert("foo", None, 2).unwrap();
        let g2 = sl.generation();
        assert_ne!(g1, g2);
        let (g, r) = sl.match_with_generation("foo");
        assert_eq!(g, g2);
        assert_eq!(r.psubs.len(), 2);
        let (g, _) = sl.match_with_generation("foo");
        assert_eq!(g, g2, "cache hit reports the same generation");
        sl.remove("foo", None, &1).unwrap();
        let g3 = sl.generation();
        assert_ne!(g2, g3);
        // Failed operations change nothing.
        assert!(sl.remove("foo", None, &1).is_err());
        assert!(sl.insert("foo..", None, 1).is_err());
        assert_eq!(sl.generation(), g3);
        sl.clear_cache();
        assert_eq!(sl.generation(), g3);
    }

    #[test]
    fn no_cache_mode() {
        let sl = Sublist::new(false);
        sl.insert("foo.>", None, 1).unwrap();
        let a = sl.match_subject("foo.bar");
        let b = sl.match_subject("foo.bar");
        assert_eq!(a.psubs, b.psubs);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(sl.cache_len(), 0);
        let g = sl.generation();
        sl.remove("foo.>", None, &1).unwrap();
        assert_ne!(g, sl.generation());
        assert!(sl.match_subject("foo.bar").is_empty());
        assert!(!sl.has_interest("foo.bar"));
        assert_eq!(sl.stats().num_cache, 0);
    }

    #[test]
    fn pruning() {
        let sl = Sublist::new(true);
        let subjects = [
            "a.b.c.d", "a.b.c", "a.*.c.>", "a.>", ">", "*", "x.y.z", "a.b.c.d",
        ];
        for (i, s) in subjects.iter().enumerate() {
            sl.insert(s, None, i as u32).unwrap();
            sl.insert(s, Some("q"), 100 + i as u32).unwrap();
        }
        assert_eq!(sl.count(), 2 * subjects.len());
        let full = sl.node_count();
        assert!(full >= 10, "{full}");
        let mut prev = full;
        for (i, s) in subjects.iter().enumerate() {
            sl.remove(s, None, &(i as u32)).unwrap();
            sl.remove(s, Some("q"), &(100 + i as u32)).unwrap();
            check_pruned(&sl.root.read());
            let now = sl.node_count();
            assert!(now <= prev);
            prev = now;
        }
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.node_count(), 0);
        assert!(sl.all().is_empty());
    }

    #[test]
    fn churn_does_not_grow() {
        let sl = Sublist::new(true);
        sl.insert("keep.me", None, 0).unwrap();
        let base = sl.node_count();
        for i in 1..2000u32 {
            let s = format!("_INBOX.{i}.x");
            sl.insert(&s, None, i).unwrap();
            assert_eq!(psubs(&sl, &s), vec![i]);
            sl.remove(&s, None, &i).unwrap();
        }
        assert_eq!(sl.node_count(), base);
        assert_eq!(sl.count(), 1);
    }

    #[test]
    fn cache_is_bounded() {
        let sl = Sublist::new(true);
        sl.insert(">", None, 1).unwrap();
        for i in 0..(3 * CACHE_MAX) {
            let r = sl.match_subject(&format!("s.{i}"));
            assert_eq!(r.psubs, vec![1]);
            assert!(sl.cache_len() <= CACHE_MAX);
        }
        assert!(sl.cache_len() > 0);
    }

    #[test]
    fn all_and_for_each() {
        let sl = Sublist::new(true);
        sl.insert("foo", None, 1).unwrap();
        sl.insert("foo.*", Some("q"), 2).unwrap();
        sl.insert("foo.>", None, 3).unwrap();
        sl.insert(">", Some("r"), 4).unwrap();
        sl.insert("a.b.c", None, 5).unwrap();
        assert_eq!(sorted(&sl.all()), vec![1, 2, 3, 4, 5]);
        let mut seen = Vec::new();
        sl.for_each_sub(|s, q, it| seen.push((s.to_string(), q.map(str::to_string), *it)));
        seen.sort_by_key(|x| x.2);
        assert_eq!(
            seen,
            vec![
                ("foo".to_string(), None, 1),
                ("foo.*".to_string(), Some("q".to_string()), 2),
                ("foo.>".to_string(), None, 3),
                (">".to_string(), Some("r".to_string()), 4),
                ("a.b.c".to_string(), None, 5),
            ]
        );
    }

    /// Very long subjects must not cost call-stack depth anywhere: insert,
    /// match, has_interest, for_each, remove/prune and drop all run on a
    /// thread with a deliberately small stack.
    #[test]
    fn deep_subjects_do_not_recurse() {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let n = 50_000;
                let literal = vec!["t"; n].join(".");
                let wild: String = (0..n)
                    .map(|i| if i % 2 == 1 { "*" } else { "t" })
                    .collect::<Vec<_>>()
                    .join(".");
                let mut fwc_toks = vec!["t"; n - 1];
                fwc_toks.push(">");
                let fwc = fwc_toks.join(".");
                let sl = Sublist::new(true);
                sl.insert(&literal, None, 1).unwrap();
                sl.insert(&wild, Some("q"), 2).unwrap();
                sl.insert(&fwc, None, 3).unwrap();
                let r = sl.match_subject(&literal);
                assert_eq!(sorted(&r.psubs), vec![1, 3]);
                assert_eq!(r.qsubs.len(), 1);
                assert!(sl.has_interest(&literal));
                assert!(sl.has_interest(&vec!["t"; n + 1].join(".")));
                assert!(!sl.has_interest(&vec!["t"; n - 1].join(".")));
                let mut seen = 0;
                sl.for_each_sub(|_, _, _| seen += 1);
                assert_eq!(seen, 3);
                sl.remove(&literal, None, &1).unwrap();
                sl.remove(&wild, Some("q"), &2).unwrap();
                assert_eq!(psubs(&sl, &literal), vec![3]);
                sl.insert(&wild, None, 4).unwrap();
                drop(sl);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn concurrent_use() {
        let sl = Arc::new(Sublist::new(true));
        sl.insert("stable.>", None, 0).unwrap();
        let mut handles = Vec::new();
        for t in 0..4u32 {
            let sl = sl.clone();
            handles.push(std::thread::spawn(move || {
                for i in 0..500u32 {
                    let id = t * 10_000 + i + 1;
                    let s = format!("stable.{t}.{}", i % 7);
                    sl.insert(&s, None, id).unwrap();
                    let r = sl.match_subject(&s);
                    assert!(r.psubs.contains(&id));
                    assert!(r.psubs.contains(&0));
                    sl.remove(&s, None, &id).unwrap();
                    let (g, r) = sl.match_with_generation(&s);
                    assert!(!r.psubs.contains(&id));
                    let _ = g;
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(sl.count(), 1);
        assert_eq!(sl.match_subject("stable.1.1").psubs, vec![0]);
    }

    // ----- property test against a naive matcher -----

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, Option<&'static str>),
        /// Remove the n-th live subscription (modulo the live count).
        Remove(prop::sample::Index),
        /// Remove something that is not there.
        RemoveMissing(String, Option<&'static str>),
        Match(String),
    }

    fn toks(min: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", ">"]), min..=4)
            .prop_map(|t| t.join("."))
    }

    fn queue() -> impl Strategy<Value = Option<&'static str>> {
        prop::option::of(prop::sample::select(vec!["q1", "q2"]))
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (toks(1), queue()).prop_map(|(s, q)| Op::Insert(s, q)),
            2 => any::<prop::sample::Index>().prop_map(Op::Remove),
            1 => (toks(1), queue()).prop_map(|(s, q)| Op::RemoveMissing(s, q)),
            4 => toks(1).prop_map(Op::Match),
        ]
    }

    fn naive(live: &[(String, Option<&'static str>, u32)], subject: &str) -> Canon {
        let mut p = Vec::new();
        let mut q: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (s, qn, id) in live {
            if subject_matches(s, subject) {
                match qn {
                    None => p.push(*id),
                    Some(n) => q.entry(n.to_string()).or_default().push(*id),
                }
            }
        }
        p.sort();
        for v in q.values_mut() {
            v.sort();
        }
        (p, q)
    }

    fn all_subjects() -> Vec<String> {
        let alphabet = ["a", "b", "c", "*", ">"];
        let mut out = Vec::new();
        let mut prev = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &prev {
                for t in alphabet {
                    next.push(if p.is_empty() {
                        t.to_string()
                    } else {
                        format!("{p}.{t}")
                    });
                }
            }
            out.extend(next.iter().cloned());
            prev = next;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn sublist_matches_naive(ops in prop::collection::vec(op(), 1..60), cache in any::<bool>()) {
            let sl = Sublist::new(cache);
            let mut live: Vec<(String, Option<&'static str>, u32)> = Vec::new();
            let mut next_id = 0u32;
            for op in ops {
                match op {
                    Op::Insert(s, q) => {
                        let res = sl.insert(&s, q, next_id);
                        if is_valid_subject(&s) {
                            prop_assert_eq!(res, Ok(()));
                            live.push((s, q, next_id));
                        } else {
                            prop_assert_eq!(res, Err(SublistError::InvalidSubject));
                        }
                        next_id += 1;
                    }
                    Op::Remove(ix) => {
                        if !live.is_empty() {
                            let (s, q, id) = live.swap_remove(ix.index(live.len()));
                            let g = sl.generation();
                            prop_assert_eq!(sl.remove(&s, q, &id), Ok(()));
                            prop_assert_ne!(g, sl.generation());
                        }
                    }
                    Op::RemoveMissing(s, q) => {
                        let g = sl.generation();
                        prop_assert_eq!(sl.remove(&s, q, &u32::MAX), Err(SublistError::NotFound));
                        prop_assert_eq!(g, sl.generation());
                    }
                    Op::Match(s) => {
                        let got = canon(&sl.match_subject(&s));
                        prop_assert_eq!(&got, &naive(&live, &s), "subject {}", s);
                        prop_assert_eq!(sl.has_interest(&s), !got.0.is_empty() || !got.1.is_empty());
                    }
                }
                prop_assert_eq!(sl.count(), live.len());
                check_pruned(&sl.root.read());
            }
            // Exhaustive final check over every subject of the alphabet.
            for s in all_subjects() {
                let got = canon(&sl.match_subject(&s));
                prop_assert_eq!(&got, &naive(&live, &s), "final subject {}", s);
            }
            let mut all = sl.all();
            all.sort();
            let mut want: Vec<u32> = live.iter().map(|x| x.2).collect();
            want.sort();
            prop_assert_eq!(all, want);
            // Drain and check pruning.
            for (s, q, id) in live.drain(..) {
                prop_assert_eq!(sl.remove(&s, q, &id), Ok(()));
            }
            prop_assert_eq!(sl.count(), 0);
            prop_assert_eq!(sl.node_count(), 0);
            for s in all_subjects().iter().take(40) {
                prop_assert!(sl.match_subject(s).is_empty());
            }
        }
    }
}
