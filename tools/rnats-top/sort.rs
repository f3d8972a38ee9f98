//! Sort keys, as nats-server's /connz `sort` option names them, and the
//! same order applied to the polled page (for servers that ignore `sort`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::monitor::ConnInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Rtt,
}

pub const ALL: [SortKey; 12] = [
    SortKey::Cid,
    SortKey::Start,
    SortKey::Subs,
    SortKey::Pending,
    SortKey::MsgsTo,
    SortKey::MsgsFrom,
    SortKey::BytesTo,
    SortKey::BytesFrom,
    SortKey::Last,
    SortKey::Idle,
    SortKey::Uptime,
    SortKey::Rtt,
];

impl SortKey {
    /// The name in /connz?sort= and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Cid => "cid",
            SortKey::Start => "start",
            SortKey::Subs => "subs",
            SortKey::Pending => "pending",
            SortKey::MsgsTo => "msgs_to",
            SortKey::MsgsFrom => "msgs_from",
            SortKey::BytesTo => "bytes_to",
            SortKey::BytesFrom => "bytes_from",
            SortKey::Last => "last",
            SortKey::Idle => "idle",
            SortKey::Uptime => "uptime",
            SortKey::Rtt => "rtt",
        }
    }

    pub fn names() -> String {
        ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join("|")
    }

    /// nats-server's order (as 2.15.1 answers /connz): cid and start
    /// ascending; the counters and rtt descending; last most recent first;
    /// idle longest first; uptime shortest first. Ties fall back to cid.
    pub fn compare(self, a: &ConnInfo, b: &ConnInfo) -> Ordering {
        let o = match self {
            SortKey::Cid => a.cid.cmp(&b.cid),
            SortKey::Start => a.start_ns.cmp(&b.start_ns),
            SortKey::Uptime => b.start_ns.cmp(&a.start_ns),
            SortKey::Subs => b.subscriptions.cmp(&a.subscriptions),
            SortKey::Pending => b.pending_bytes.cmp(&a.pending_bytes),
            SortKey::MsgsTo => b.out_msgs.cmp(&a.out_msgs),
            SortKey::MsgsFrom => b.in_msgs.cmp(&a.in_msgs),
            SortKey::BytesTo => b.out_bytes.cmp(&a.out_bytes),
            SortKey::BytesFrom => b.in_bytes.cmp(&a.in_bytes),
            SortKey::Last => b.last_ns.cmp(&a.last_ns),
            SortKey::Idle => a.last_ns.cmp(&b.last_ns),
            SortKey::Rtt => b.rtt_ns.cmp(&a.rtt_ns),
        };
        o.then(a.cid.cmp(&b.cid))
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SortKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        ALL.iter()
            .copied()
            .find(|k| k.name() == t)
            .ok_or_else(|| format!("invalid sort key {s:?}: use one of {}", SortKey::names()))
    }
}

/// Sorts the polled page in place.
pub fn sort(conns: &mut [ConnInfo], key: SortKey) {
    conns.sort_by(|a, b| key.compare(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64, start: i64, last: i64, subs: u32) -> ConnInfo {
        ConnInfo {
            cid,
            start_ns: start,
            last_ns: last,
            subscriptions: subs,
            ..Default::default()
        }
    }

    fn order(key: SortKey) -> Vec<u64> {
        let mut v = vec![conn(2, 20, 50, 1), conn(1, 10, 40, 3), conn(3, 30, 60, 2)];
        sort(&mut v, key);
        v.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn orders_like_the_reference_server() {
        assert_eq!(order(SortKey::Cid), [1, 2, 3]);
        assert_eq!(order(SortKey::Start), [1, 2, 3]);
        assert_eq!(order(SortKey::Uptime), [3, 2, 1]);
        assert_eq!(order(SortKey::Last), [3, 2, 1]);
        assert_eq!(order(SortKey::Idle), [1, 2, 3]);
        assert_eq!(order(SortKey::Subs), [1, 3, 2]);
        assert_eq!("msgs_to".parse::<SortKey>(), Ok(SortKey::MsgsTo));
        assert!("nope".parse::<SortKey>().is_err());
    }
}
