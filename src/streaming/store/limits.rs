//! Store limits: global defaults and per-channel overrides, resolved to the
//! limits of one channel.
//!
//! As in nats-streaming-server, channel entries may use wildcards; a
//! channel takes the most specific matching entry, whose zero fields inherit
//! from the wider entries and then the global limits, and a negative field
//! means unlimited.

use std::time::Duration;

/// The limits that apply to one channel; 0 means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelLimits {
    pub max_msgs: u64,
    pub max_bytes: u64,
    pub max_age: Duration,
    pub max_subs: u64,
    pub max_inactivity: Duration,
}

/// One limits entry as configured: 0 inherits (in channel entries),
/// negative is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsEntry {
    pub max_msgs: i64,
    pub max_bytes: i64,
    /// Nanoseconds.
    pub max_age: i64,
    pub max_subs: i64,
    /// Nanoseconds.
    pub max_inactivity: i64,
}

impl LimitsEntry {
    fn over(self, base: LimitsEntry) -> LimitsEntry {
        let pick = |mine: i64, theirs: i64| if mine == 0 { theirs } else { mine };
        LimitsEntry {
            max_msgs: pick(self.max_msgs, base.max_msgs),
            max_bytes: pick(self.max_bytes, base.max_bytes),
            max_age: pick(self.max_age, base.max_age),
            max_subs: pick(self.max_subs, base.max_subs),
            max_inactivity: pick(self.max_inactivity, base.max_inactivity),
        }
    }

    fn resolve(self) -> ChannelLimits {
        let u = |v: i64| v.max(0) as u64;
        ChannelLimits {
            max_msgs: u(self.max_msgs),
            max_bytes: u(self.max_bytes),
            max_age: Duration::from_nanos(u(self.max_age)),
            max_subs: u(self.max_subs),
            max_inactivity: Duration::from_nanos(u(self.max_inactivity)),
        }
    }
}

/// The configured limits: `max_channels`, the global entry and the
/// per-channel entries in configuration order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_channels: u64,
    pub global: LimitsEntry,
    pub channels: Vec<(String, LimitsEntry)>,
}

impl Default for StoreLimits {
    /// nats-streaming-server's defaults.
    fn default() -> Self {
        StoreLimits {
            max_channels: 100,
            global: LimitsEntry {
                max_msgs: 1_000_000,
                max_bytes: 1_024_000_000,
                max_age: 0,
                max_subs: 1000,
                max_inactivity: 0,
            },
            channels: Vec::new(),
        }
    }
}

/// Whether a channel-limits key (possibly with `*`/`>`) covers `channel`.
pub fn pattern_matches(pattern: &str, channel: &str) -> bool {
    let mut p = pattern.split('.');
    let mut c = channel.split('.');
    loop {
        match (p.next(), c.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some channel matches both patterns (`*` one token, `>` the
/// rest), as partitioning forbids on two servers.
pub fn patterns_overlap(a: &str, b: &str) -> bool {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(p), Some(q)) if p == q => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether pattern `narrow` is covered by pattern `wide` (every channel
/// `narrow` matches, `wide` matches too).
fn pattern_within(narrow: &str, wide: &str) -> bool {
    let mut n = narrow.split('.');
    let mut w = wide.split('.');
    loop {
        match (n.next(), w.next()) {
            (Some(_), Some(">")) => return true,
            (Some(">"), Some(_)) => return false,
            (Some(_), Some("*")) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl StoreLimits {
    /// The limits of `channel`: the matching entries from the widest to the
    /// narrowest, each over the one before, over the global limits.
    pub fn for_channel(&self, channel: &str) -> ChannelLimits {
        let mut matching: Vec<&(String, LimitsEntry)> = self
            .channels
            .iter()
            .filter(|(p, _)| pattern_matches(p, channel))
            .collect();
        // Wider first: an entry another matching entry lies within comes
        // before it.
        matching.sort_by_key(|(p, _)| {
            self.channels
                .iter()
                .filter(|(q, _)| q != p && pattern_matches(q, channel) && pattern_within(p, q))
                .count()
        });
        let mut e = self.global;
        for (_, entry) in matching {
            e = entry.over(e);
        }
        e.resolve()
    }

    /// Whether partitioning serves `channel`: some channel entry matches it.
    pub fn lists(&self, channel: &str) -> bool {
        self.channels
            .iter()
            .any(|(p, _)| pattern_matches(p, channel))
    }

    /// nats-streaming-server's checks: per-channel limits may not exceed
    /// the global ones.
    ///
    /// # Errors
    /// The first channel entry over a global limit.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let g = self.global;
        for (name, e) in &self.channels {
            let over = |mine: i64, global: i64| global > 0 && mine > global;
            for (what, m, gl) in [
                ("max_msgs", e.max_msgs, g.max_msgs),
                ("max_bytes", e.max_bytes, g.max_bytes),
                ("max_age", e.max_age, g.max_age),
                ("max_subs", e.max_subs, g.max_subs),
                ("max_inactivity", e.max_inactivity, g.max_inactivity),
            ] {
                if over(m, gl) {
                    return Err(format!(
                        "channel {name:?}: {what} {m} is greater than the global limit {gl}"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrower_entries_inherit_from_wider_then_global() {
        let mut l = StoreLimits::default();
        l.channels.push((
            "foo.>".into(),
            LimitsEntry {
                max_msgs: 10,
                ..Default::default()
            },
        ));
        l.channels.push((
            "foo.bar".into(),
            LimitsEntry {
                max_bytes: 100,
                ..Default::default()
            },
        ));
        l.channels.push((
            "baz".into(),
            LimitsEntry {
                max_msgs: -1,
                ..Default::default()
            },
        ));
        let c = l.for_channel("foo.bar");
        assert_eq!((c.max_msgs, c.max_bytes, c.max_subs), (10, 100, 1000));
        let c = l.for_channel("foo.x");
        assert_eq!((c.max_msgs, c.max_bytes), (10, 1_024_000_000));
        assert_eq!(l.for_channel("baz").max_msgs, 0);
        assert_eq!(l.for_channel("other").max_msgs, 1_000_000);
        assert!(l.lists("foo.q") && !l.lists("foo"));
    }

    #[test]
    fn overlaps() {
        assert!(patterns_overlap("a.*", "a.b"));
        assert!(patterns_overlap("a.>", "*.b.c"));
        assert!(patterns_overlap("foo", "foo"));
        assert!(!patterns_overlap("a.*", "a.b.c"));
        assert!(!patterns_overlap("a.b", "a.c"));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("a.*.c", "a.b.c"));
        assert!(!pattern_matches("a.*", "a.b.c"));
        assert!(pattern_matches("a.>", "a.b.c"));
        assert!(!pattern_matches("a.>", "a"));
        assert!(pattern_within("a.b", "a.*") && !pattern_within("a.*", "a.b"));
    }
}
