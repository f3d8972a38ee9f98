//! Rate quotas: how many messages and bytes per second an account or a user
//! may publish, with a burst.
//!
//! A quota never drops a message and never answers with an error: a
//! publisher over its quota is simply not read until its tokens come back,
//! so the only effect is latency, and TCP backpressure does the rest. The
//! reader charges a [`RateBucket`] once per read batch (never per message),
//! so a connection without a quota pays one pointer check per batch.
//!
//! In the config: `limits { msgs_per_sec: 1000, bytes_per_sec: 1MB, burst:
//! "500ms" }` on an account or a user. In JWTs, the same three values as
//! extra fields of the account's or user's limits (`msgs_per_sec`,
//! `bytes_per_sec`, `burst_ms`), which nats-server ignores.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{ConfigError, Kind, Value};

/// How much a burst may exceed the rate when no `burst` is given: a full
/// second's worth.
pub const DEFAULT_BURST: Duration = Duration::from_secs(1);

/// A rate quota. A zero rate is no limit on that measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub msgs_per_sec: u64,
    pub bytes_per_sec: u64,
    /// How long the full rate may be exceeded at once: the buckets hold
    /// `rate × burst` tokens.
    pub burst: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            msgs_per_sec: 0,
            bytes_per_sec: 0,
            burst: DEFAULT_BURST,
        }
    }
}

impl RateLimit {
    /// Whether the quota limits anything.
    pub fn is_limited(&self) -> bool {
        self.msgs_per_sec > 0 || self.bytes_per_sec > 0
    }

    /// A quota from JWT limit fields (`burst_ms` 0 = the default burst);
    /// `None` when neither rate is set.
    pub fn from_jwt(msgs_per_sec: i64, bytes_per_sec: i64, burst_ms: i64) -> Option<RateLimit> {
        let limit = RateLimit {
            msgs_per_sec: msgs_per_sec.max(0) as u64,
            bytes_per_sec: bytes_per_sec.max(0) as u64,
            burst: if burst_ms > 0 {
                Duration::from_millis(burst_ms as u64)
            } else {
                DEFAULT_BURST
            },
        };
        limit.is_limited().then_some(limit)
    }
}

/// Whether `key` is one of the quota keys of a `limits {}` block.
pub fn is_rate_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "msgs_per_sec" | "bytes_per_sec" | "burst"
    )
}

/// Reads one quota key of a `limits {}` block into `limit`.
///
/// # Errors
/// A negative or non-numeric rate, or a burst that is not a duration.
pub fn parse_rate_key(
    limit: &mut RateLimit,
    name: &str,
    v: &Value,
    key: &str,
) -> Result<(), ConfigError> {
    let count = |what: &str| match v.kind {
        Kind::Integer(n) if n >= 0 => Ok(n as u64),
        _ => Err(ConfigError::at(
            &v.pos,
            key,
            format!("Expected {what:?} to be a non-negative integer"),
        )),
    };
    match name.to_ascii_lowercase().as_str() {
        "msgs_per_sec" => limit.msgs_per_sec = count("msgs_per_sec")?,
        "bytes_per_sec" => limit.bytes_per_sec = count("bytes_per_sec")?,
        "burst" => {
            limit.burst = match &v.kind {
                Kind::String(s) => crate::config::parse_duration(s),
                Kind::Integer(n) if *n > 0 => Some(Duration::from_secs(*n as u64)),
                // Checked: a float too large for a duration is refused, not a panic.
                Kind::Float(f) if *f > 0.0 => Duration::try_from_secs_f64(*f).ok(),
                _ => None,
            }
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigError::at(
                    &v.pos,
                    key,
                    "Expected \"burst\" to be a positive duration (\"500ms\", \"2s\") or seconds",
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// How long an account stays a noisy tenant after a connection of its last
/// waited on a rate quota: its new connections go to the bulk lane for that
/// long, then start on the main lane again.
pub const NOISY_FOR: Duration = Duration::from_secs(60);

/// Whether an account is a noisy tenant: one of its connections recently
/// waited on a rate quota (its account's or its user's). A throttled
/// publisher still wakes its subscribers at the quota's pace; moving the
/// whole account to the bulk lane keeps that trickle, and the wake-ups
/// between the publisher and its subscribers, away from other tenants.
#[derive(Debug, Default)]
pub struct NoisyMark {
    /// When the account last waited, in milliseconds since [`epoch`] (+1,
    /// so 0 means never).
    last_ms: AtomicU64,
}

impl NoisyMark {
    /// Records a quota wait now; true when the account was not noisy just
    /// before, so its connections are to move.
    pub fn mark(&self) -> bool {
        self.mark_at(now_ms())
    }

    /// Whether the account waited on a quota within [`NOISY_FOR`].
    pub fn is_noisy(&self) -> bool {
        self.is_noisy_at(now_ms())
    }

    fn mark_at(&self, now: u64) -> bool {
        let before = self.last_ms.swap(now, Ordering::Relaxed);
        !Self::fresh(before, now)
    }

    fn is_noisy_at(&self, now: u64) -> bool {
        Self::fresh(self.last_ms.load(Ordering::Relaxed), now)
    }

    fn fresh(at: u64, now: u64) -> bool {
        at != 0 && now.saturating_sub(at) <= NOISY_FOR.as_millis() as u64
    }
}

/// The process's clock for [`NoisyMark`]: a fixed start, read lazily.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since [`epoch`], plus one (never 0). The bulk lane's
/// quiet check (`lanes::HeavyMark`) reads the same clock.
pub(crate) fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// A token bucket for one quota, shared by every connection it covers. It
/// may go into debt by one batch: the batch is already read when it is
/// charged, and the debt is paid by waiting before the next read, so the
/// average rate is exact.
#[derive(Debug)]
pub struct RateBucket {
    state: Mutex<BucketState>,
    /// Time publishers spent waiting on this quota, in nanoseconds.
    throttled_ns: AtomicU64,
}

#[derive(Debug)]
struct BucketState {
    limit: RateLimit,
    msgs: f64,
    bytes: f64,
    last: Instant,
}

fn capacity(rate: u64, burst: Duration) -> f64 {
    (rate as f64 * burst.as_secs_f64()).max(1.0)
}

impl RateBucket {
    /// A full bucket for `limit`.
    pub fn new(limit: RateLimit) -> RateBucket {
        RateBucket {
            state: Mutex::new(BucketState {
                limit,
                msgs: capacity(limit.msgs_per_sec, limit.burst),
                bytes: capacity(limit.bytes_per_sec, limit.burst),
                last: Instant::now(),
            }),
            throttled_ns: AtomicU64::new(0),
        }
    }

    /// The quota in force.
    pub fn limit(&self) -> RateLimit {
        self.state.lock().limit
    }

    /// Changes the quota (reload, claims update); tokens above the new
    /// capacity are dropped, a debt stays.
    pub fn set_limit(&self, limit: RateLimit) {
        let mut st = self.state.lock();
        st.limit = limit;
        st.msgs = st.msgs.min(capacity(limit.msgs_per_sec, limit.burst));
        st.bytes = st.bytes.min(capacity(limit.bytes_per_sec, limit.burst));
    }

    /// Takes what a batch published and returns how long the publisher must
    /// wait before reading more (zero within the quota).
    pub fn charge(&self, msgs: u64, bytes: u64) -> Duration {
        self.charge_at(msgs, bytes, Instant::now())
    }

    fn charge_at(&self, msgs: u64, bytes: u64, now: Instant) -> Duration {
        let mut st = self.state.lock();
        let elapsed = now.saturating_duration_since(st.last).as_secs_f64();
        st.last = now;
        let limit = st.limit;
        let mut wait = 0f64;
        if limit.msgs_per_sec > 0 {
            let rate = limit.msgs_per_sec as f64;
            st.msgs = (st.msgs + rate * elapsed).min(capacity(limit.msgs_per_sec, limit.burst));
            st.msgs -= msgs as f64;
            if st.msgs < 0.0 {
                wait = wait.max(-st.msgs / rate);
            }
        }
        if limit.bytes_per_sec > 0 {
            let rate = limit.bytes_per_sec as f64;
            st.bytes = (st.bytes + rate * elapsed).min(capacity(limit.bytes_per_sec, limit.burst));
            st.bytes -= bytes as f64;
            if st.bytes < 0.0 {
                wait = wait.max(-st.bytes / rate);
            }
        }
        Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX)
    }

    /// The tokens in the bucket now, after refilling: (messages, bytes),
    /// infinite for a measure without a limit. A reader processes at most
    /// this much before it charges and waits.
    pub fn available(&self) -> (f64, f64) {
        let mut st = self.state.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(st.last).as_secs_f64();
        st.last = now;
        let limit = st.limit;
        let mut out = (f64::INFINITY, f64::INFINITY);
        if limit.msgs_per_sec > 0 {
            st.msgs = (st.msgs + limit.msgs_per_sec as f64 * elapsed)
                .min(capacity(limit.msgs_per_sec, limit.burst));
            out.0 = st.msgs;
        }
        if limit.bytes_per_sec > 0 {
            st.bytes = (st.bytes + limit.bytes_per_sec as f64 * elapsed)
                .min(capacity(limit.bytes_per_sec, limit.burst));
            out.1 = st.bytes;
        }
        out
    }

    /// How long until the bucket holds a small batch again: 10 ms of its
    /// rate (at least one message and one byte, at most the burst).
    pub fn time_to_refill(&self) -> Duration {
        let st = self.state.lock();
        let limit = st.limit;
        let mut wait = 0f64;
        for (rate, tokens) in [
            (limit.msgs_per_sec, st.msgs),
            (limit.bytes_per_sec, st.bytes),
        ] {
            if rate == 0 {
                continue;
            }
            let need = (rate as f64 * 0.01)
                .max(1.0)
                .min(capacity(rate, limit.burst));
            if tokens < need {
                wait = wait.max((need - tokens) / rate as f64);
            }
        }
        Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX)
    }

    /// Adds time a publisher waited on this quota.
    pub fn record_throttle(&self, waited: Duration) {
        self.throttled_ns
            .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Total time publishers waited on this quota.
    pub fn throttled(&self) -> Duration {
        Duration::from_nanos(self.throttled_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_noisy_for_a_while_after_its_last_quota_wait() {
        let m = NoisyMark::default();
        let span = NOISY_FOR.as_millis() as u64;
        assert!(!m.is_noisy_at(1), "never waited");
        assert!(m.mark_at(1), "the first wait moves the account");
        assert!(!m.mark_at(2), "a second wait does not move it again");
        assert!(m.is_noisy_at(2 + span));
        assert!(!m.is_noisy_at(3 + span), "quiet for NOISY_FOR");
        assert!(m.mark_at(3 + span), "noisy again: its new connections move");
    }

    fn limit(msgs: u64, bytes: u64, burst_ms: u64) -> RateLimit {
        RateLimit {
            msgs_per_sec: msgs,
            bytes_per_sec: bytes,
            burst: Duration::from_millis(burst_ms),
        }
    }

    #[test]
    fn a_burst_passes_then_the_debt_is_paid_by_waiting() {
        let b = RateBucket::new(limit(1000, 0, 100));
        let t0 = Instant::now();
        // 100 messages of burst are free.
        assert_eq!(b.charge_at(100, 0, t0), Duration::ZERO);
        // 50 more put the bucket 50 in debt: 50 ms at 1000/s.
        let w = b.charge_at(50, 0, t0);
        assert!((w.as_secs_f64() - 0.05).abs() < 1e-6, "{w:?}");
        // After waiting it out, the next batch of 10 owes 10 ms.
        let w = b.charge_at(10, 0, t0 + Duration::from_millis(50));
        assert!((w.as_secs_f64() - 0.01).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn the_slower_measure_decides() {
        let b = RateBucket::new(limit(1_000_000, 1000, 1000));
        let t0 = Instant::now();
        assert_eq!(b.charge_at(1, 1000, t0), Duration::ZERO);
        let w = b.charge_at(1, 500, t0);
        assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn the_average_rate_holds_over_many_batches() {
        // Batches of 64 messages at 500/s with a burst of 100, each followed
        // by the wait it asks for: 6400 messages take (6400 - 100) / 500 s.
        let b = RateBucket::new(limit(500, 0, 200));
        let start = Instant::now();
        let mut t = start;
        for _ in 0..100 {
            t += b.charge_at(64, 0, t);
        }
        let took = t.duration_since(start).as_secs_f64();
        let expected = (6400.0 - 100.0) / 500.0;
        assert!(
            (took - expected).abs() / expected < 0.02,
            "{took} vs {expected}"
        );
    }

    #[test]
    fn lowering_the_limit_drops_extra_tokens() {
        let b = RateBucket::new(limit(1000, 0, 1000));
        b.set_limit(limit(10, 0, 1000));
        let t0 = Instant::now();
        assert_eq!(b.charge_at(10, 0, t0), Duration::ZERO);
        assert!(b.charge_at(1, 0, t0) > Duration::ZERO);
        assert_eq!(b.limit().msgs_per_sec, 10);
    }

    #[test]
    fn jwt_fields_convert() {
        assert_eq!(RateLimit::from_jwt(0, 0, 0), None);
        let l = RateLimit::from_jwt(10, -1, 250).unwrap();
        assert_eq!(
            (l.msgs_per_sec, l.bytes_per_sec, l.burst),
            (10, 0, Duration::from_millis(250))
        );
        assert_eq!(RateLimit::from_jwt(0, 5, 0).unwrap().burst, DEFAULT_BURST);
    }
}
