//! How nats-server writes times, durations and numbers in monitoring JSON:
//! RFC 3339 timestamps with trimmed nanoseconds, Go `time.Duration`
//! strings (`"1m30.5s"`, `"186µs"`), the coarse `uptime`/`idle` strings
//! (`"1d2h3m4s"`), and floats without a trailing `.0`.

use serde::Serializer;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-25T17:03:36.606351989Z`: Go's `time.RFC3339Nano` in UTC
/// (trailing zeros of the fraction dropped, no fraction when it is zero).
pub fn rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(_) => (0, 0),
    };
    let dt = chrono::DateTime::<chrono::Utc>::from_timestamp(secs, nanos).unwrap_or_default();
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.Duration.String()` for a non-negative duration.
pub fn go_duration(d: Duration) -> String {
    let u = d.as_nanos().min(u64::MAX as u128) as u64;
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = frac_digits(u, prec);
        return format!("{int}{frac}{unit}");
    }
    let (secs, frac) = frac_digits(u, 9);
    let mut out = String::new();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if secs >= 60 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}{frac}s"));
    out
}

/// Splits `v` into `v / 10^prec` and the fraction `.ddd` (trailing zeros
/// dropped, empty when zero), as Go's `fmtFrac`.
fn frac_digits(v: u64, prec: u32) -> (u64, String) {
    if prec == 0 {
        return (v, String::new());
    }
    let p = 10u64.pow(prec);
    let frac = v % p;
    if frac == 0 {
        return (v / p, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / p, format!(".{}", digits.trim_end_matches('0')))
}

/// nats-server's `uptime`/`idle` strings: whole seconds with days and years
/// (`"0s"`, `"4m8s"`, `"2d3h0m1s"`, `"1y2d0h0m0s"`).
pub fn uptime(d: Duration) -> String {
    let tsecs = d.as_secs();
    let (tmins, thrs) = (tsecs / 60, tsecs / 3600);
    let (tdays, tyrs) = (thrs / 24, thrs / 24 / 365);
    if tyrs > 0 {
        format!(
            "{tyrs}y{}d{}h{}m{}s",
            tdays % 365,
            thrs % 24,
            tmins % 60,
            tsecs % 60
        )
    } else if tdays > 0 {
        format!("{tdays}d{}h{}m{}s", thrs % 24, tmins % 60, tsecs % 60)
    } else if thrs > 0 {
        format!("{thrs}h{}m{}s", tmins % 60, tsecs % 60)
    } else if tmins > 0 {
        format!("{tmins}m{}s", tsecs % 60)
    } else {
        format!("{tsecs}s")
    }
}

/// `later - earlier`, zero when the clock went backwards.
pub fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// Writes a float as Go's `encoding/json` does for the values monitoring
/// produces: whole numbers without a fraction (`2`, not `2.0`).
pub fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_i64(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        let ns = Duration::from_nanos;
        assert_eq!(go_duration(ns(0)), "0s");
        assert_eq!(go_duration(ns(1)), "1ns");
        assert_eq!(go_duration(ns(999)), "999ns");
        assert_eq!(go_duration(ns(1_000)), "1µs");
        assert_eq!(go_duration(ns(186_000)), "186µs");
        assert_eq!(go_duration(ns(1_500)), "1.5µs");
        assert_eq!(go_duration(ns(1_234_567)), "1.234567ms");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(248)), "4m8s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(ns(3_723_000_000_001)), "1h2m3.000000001s");
    }

    #[test]
    fn uptime_strings() {
        let s = Duration::from_secs;
        assert_eq!(uptime(Duration::from_millis(999)), "0s");
        assert_eq!(uptime(s(59)), "59s");
        assert_eq!(uptime(s(248)), "4m8s");
        assert_eq!(uptime(s(3600)), "1h0m0s");
        assert_eq!(uptime(s(2 * 86400 + 3 * 3600 + 1)), "2d3h0m1s");
        assert_eq!(uptime(s(367 * 86400)), "1y2d0h0m0s");
    }

    #[test]
    fn rfc3339_trims_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_795_000_000, 606_351_989);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.606351989Z");
        let t = UNIX_EPOCH + Duration::new(1_795_000_000, 500_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.5Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1)),
            "1970-01-01T00:00:01Z"
        );
    }

    #[test]
    fn floats_as_go_writes_them() {
        #[derive(serde::Serialize)]
        struct F {
            #[serde(serialize_with = "go_float")]
            a: f64,
            #[serde(serialize_with = "go_float")]
            b: f64,
        }
        let j = serde_json::to_string(&F { a: 2.0, b: 0.25 }).unwrap();
        assert_eq!(j, r#"{"a":2,"b":0.25}"#);
    }
}
