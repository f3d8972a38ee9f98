//! Flag groups shared by several commands (as nsc's `*Params` types) and
//! the value parsers behind them: numbers with units, dates and relative
//! times, durations.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rnats::jwt::{self, Permissions, ResponsePermission, TimeRange, UserPermissionLimits};

/// Parses a number the way nsc does (go-humanize `ParseBytes`): plain
/// integers, or a value with a unit: `k`, `m`, `g`, `t`, `p` (powers of 1000,
/// optional trailing `b`), `ki`, `mi`, `gi`, `ti`, `pi` (powers of 1024,
/// optional trailing `b`). A leading `-` negates (`-1`: unlimited).
pub fn parse_number(s: &str) -> Result<i64> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024f64.powi(4),
        "pi" | "pib" => 1024f64.powi(5),
        _ => bail!("invalid number {s:?}: unknown unit {unit:?}"),
    };
    if num.is_empty() {
        bail!("invalid number {s:?}");
    }
    let v: f64 = num
        .parse()
        .with_context(|| format!("invalid number {s:?}"))?;
    let v = (v * mult).round();
    if v > i64::MAX as f64 {
        bail!("number {s:?} is too large");
    }
    let v = v as i64;
    Ok(if neg { -v } else { v })
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Civil date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Go's `time.AddDate` on a unix time (UTC): months overflow into the next
/// month as Go normalises them.
fn add_date(now: i64, years: i64, months: i64, days: i64) -> i64 {
    let day = now.div_euclid(86400);
    let secs = now.rem_euclid(86400);
    let (y, m, d) = civil_from_days(day);
    let total_months = y * 12 + i64::from(m) - 1 + years * 12 + months;
    let (ny, nm) = (
        total_months.div_euclid(12),
        (total_months.rem_euclid(12) + 1) as u32,
    );
    // Go normalises e.g. Jan 31 + 1 month to Mar 3 (or 2).
    let base = days_from_civil(ny, nm, 1) + i64::from(d) - 1;
    (base + days) * 86400 + secs
}

/// Parses `YYYY-MM-DD` into its parts.
fn parse_ymd(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

/// Parses `HH:MM:SS` into seconds.
fn parse_hms(s: &str) -> Option<i64> {
    jwt::types::parse_time_of_day(s).map(i64::from)
}

/// Parses an RFC 3339 date-time (`2024-01-02T03:04:05Z`, with an optional
/// fraction and `±HH:MM` offset) into unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let (y, m, d) = parse_ymd(date)?;
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let oh: i64 = oh.parse().ok()?;
        let om: i64 = om.parse().ok()?;
        (t, sign * (oh * 3600 + om * 60))
    };
    let time = time.split('.').next()?;
    let secs = parse_hms(time)?;
    Some(days_from_civil(y, m, d) * 86400 + secs - offset)
}

/// Parses nsc's `--start`/`--expiry` values: `0` or empty (no limit, 0),
/// `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DD HH:MM:SS UTC`, or a count and a
/// unit relative to `now`: `m`inutes, `h`ours, `d`ays, `w`eeks, `M`onths,
/// `y`ears (e.g. `3d`, `2M`, `-1h`).
pub fn parse_expiry(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Ok(0);
    }
    if s.contains('.') {
        bail!("start/expiry must be an integer value: {s}");
    }
    if let Some(dt) = s.strip_suffix(" UTC") {
        if let Some((d, t)) = dt.split_once(' ') {
            if let (Some((y, m, dd)), Some(secs)) = (parse_ymd(d), parse_hms(t)) {
                return Ok(days_from_civil(y, m, dd) * 86400 + secs);
            }
        }
    }
    if let Some((y, m, d)) = parse_ymd(s) {
        return Ok(days_from_civil(y, m, d) * 86400);
    }
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    let unit = s.chars().last().unwrap_or(' ');
    let count: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| anyhow!("couldn't parse expiry: {s}"))?;
    if count == 0 {
        return Ok(0);
    }
    Ok(match unit {
        'm' => now + count * 60,
        'h' => now + count * 3600,
        'd' => add_date(now, 0, 0, count),
        'w' => add_date(now, 0, 0, 7 * count),
        'M' => add_date(now, 0, count, 0),
        'y' => add_date(now, count, 0, 0),
        _ => bail!("couldn't parse expiry: {s}"),
    })
}

/// Parses a revocation time (`--at`): unix seconds or RFC 3339; 0 means now.
pub fn parse_at(s: Option<&str>, now: i64) -> Result<i64> {
    match s.map(str::trim) {
        None | Some("") | Some("0") => Ok(now),
        Some(v) => {
            if let Ok(n) = v.parse::<i64>() {
                Ok(n)
            } else {
                parse_rfc3339(v).ok_or_else(|| {
                    anyhow!("invalid time {v:?}: expected RFC3339 or seconds since epoch")
                })
            }
        }
    }
}

/// Parses a Go duration (`5s`, `1m30s`, `250ms`, `2h`) into nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        bail!("invalid duration {s:?}");
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| anyhow!("invalid duration {s:?}: missing unit"))?;
        let n: f64 = rest[..n_end]
            .parse()
            .map_err(|_| anyhow!("invalid duration {s:?}"))?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => bail!("invalid duration {s:?}: unknown unit {u:?}"),
        };
        total += n * mult;
        rest = &rest[u_end..];
    }
    Ok(total as i64)
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (nsc's date format).
pub fn format_unix(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86400));
    let s = t.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// `--start` and `--expiry`.
#[derive(Args, Debug, Clone, Default)]
pub struct TimeFlags {
    /// Valid from ('0' is always, '3d' is three days) - yyyy-mm-dd, #m(inutes), #h(ours), #d(ays), #w(eeks), #M(onths), #y(ears)
    #[arg(long)]
    pub start: Option<String>,
    /// Valid until ('0' is always, '2M' is two months) - yyyy-mm-dd, #m(inutes), #h(ours), #d(ays), #w(eeks), #M(onths), #y(ears)
    #[arg(long)]
    pub expiry: Option<String>,
}

impl TimeFlags {
    /// True when a flag was given.
    pub fn any(&self) -> bool {
        self.start.is_some() || self.expiry.is_some()
    }

    /// Sets `nbf`/`exp` of a claim.
    pub fn apply<N>(&self, c: &mut jwt::Claims<N>) -> Result<()> {
        let now = jwt::now();
        if let Some(s) = &self.start {
            c.nbf = parse_expiry(s, now).with_context(|| format!("start {s:?} is invalid"))?;
        }
        if let Some(e) = &self.expiry {
            c.exp = parse_expiry(e, now).with_context(|| format!("expiry {e:?} is invalid"))?;
        }
        Ok(())
    }
}

/// `--tag` / `--rm-tag`.
#[derive(Args, Debug, Clone, Default)]
pub struct TagFlags {
    /// Add tags - comma separated list or option can be specified multiple times
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Remove tags - comma separated list or option can be specified multiple times
    #[arg(long = "rm-tag", value_delimiter = ',')]
    pub rm_tags: Vec<String>,
}

impl TagFlags {
    /// True when a flag was given.
    pub fn any(&self) -> bool {
        !self.tags.is_empty() || !self.rm_tags.is_empty()
    }

    /// Applies to a claim body's generic fields.
    pub fn apply(&self, g: &mut jwt::GenericFields) {
        for t in &self.rm_tags {
            g.remove_tag(t);
        }
        for t in &self.tags {
            g.add_tag(t);
        }
    }
}

/// Publish/subscribe/response permission flags (nsc's `PermissionsParams`).
#[derive(Args, Debug, Clone, Default)]
pub struct PermFlags {
    /// Add publish permissions - comma separated list or option can be specified multiple times
    #[arg(long = "allow-pub", value_delimiter = ',')]
    pub allow_pub: Vec<String>,
    /// Add publish and subscribe permissions - comma separated list or option can be specified multiple times
    #[arg(long = "allow-pubsub", value_delimiter = ',')]
    pub allow_pubsub: Vec<String>,
    /// Add subscribe permissions ("subject" or "subject queue") - comma separated list or option can be specified multiple times
    #[arg(long = "allow-sub", value_delimiter = ',')]
    pub allow_sub: Vec<String>,
    /// Add deny publish permissions - comma separated list or option can be specified multiple times
    #[arg(long = "deny-pub", value_delimiter = ',')]
    pub deny_pub: Vec<String>,
    /// Add deny publish and subscribe permissions - comma separated list or option can be specified multiple times
    #[arg(long = "deny-pubsub", value_delimiter = ',')]
    pub deny_pubsub: Vec<String>,
    /// Add deny subscribe permissions - comma separated list or option can be specified multiple times
    #[arg(long = "deny-sub", value_delimiter = ',')]
    pub deny_sub: Vec<String>,
    /// Remove publish/subscribe and deny permissions - comma separated list or option can be specified multiple times
    #[arg(long = "rm", value_delimiter = ',')]
    pub rm: Vec<String>,
    /// Allow publishing to reply subjects of received requests [with an optional count, --allow-pub-response=n]
    #[arg(long = "allow-pub-response", num_args = 0..=1, default_missing_value = "1", require_equals = true)]
    pub allow_pub_response: Option<i64>,
    /// Deprecated: use --allow-pub-response=n
    #[arg(long = "max-responses", hide = true)]
    pub max_responses: Option<i64>,
    /// How long the response permission lasts - #ms(millis) | #s(econds) | #m(inutes) | #h(ours)
    #[arg(long = "response-ttl")]
    pub response_ttl: Option<String>,
    /// Remove the response permission
    #[arg(long = "rm-response-perms")]
    pub rm_response_perms: bool,
}

fn add_unique(list: &mut Vec<String>, items: &[String]) {
    for i in items {
        let i = i.trim();
        if !i.is_empty() && !list.iter().any(|x| x == i) {
            list.push(i.to_string());
        }
    }
}

impl PermFlags {
    /// True when a flag was given.
    pub fn any(&self) -> bool {
        !(self.allow_pub.is_empty()
            && self.allow_pubsub.is_empty()
            && self.allow_sub.is_empty()
            && self.deny_pub.is_empty()
            && self.deny_pubsub.is_empty()
            && self.deny_sub.is_empty()
            && self.rm.is_empty()
            && self.allow_pub_response.is_none()
            && self.max_responses.is_none()
            && self.response_ttl.is_none()
            && !self.rm_response_perms)
    }

    /// Applies the flags to `p`, checking every subject.
    pub fn apply(&self, p: &mut Permissions) -> Result<()> {
        for s in self
            .allow_pub
            .iter()
            .chain(&self.allow_pubsub)
            .chain(&self.deny_pub)
            .chain(&self.deny_pubsub)
        {
            if let Some(e) = jwt::validate::subject_problem(s.trim()) {
                bail!("invalid publish permission: {e}");
            }
        }
        for s in self.allow_sub.iter().chain(&self.deny_sub) {
            let subj = s.trim().split(' ').next().unwrap_or("");
            if let Some(e) = jwt::validate::subject_problem(subj) {
                bail!("invalid subscribe permission: {e}");
            }
        }
        for r in &self.rm {
            let r = r.trim();
            for l in [
                &mut p.publish.allow,
                &mut p.publish.deny,
                &mut p.subscribe.allow,
                &mut p.subscribe.deny,
            ] {
                l.retain(|x| x != r);
            }
        }
        add_unique(&mut p.publish.allow, &self.allow_pub);
        add_unique(&mut p.publish.allow, &self.allow_pubsub);
        add_unique(&mut p.subscribe.allow, &self.allow_sub);
        add_unique(&mut p.subscribe.allow, &self.allow_pubsub);
        add_unique(&mut p.publish.deny, &self.deny_pub);
        add_unique(&mut p.publish.deny, &self.deny_pubsub);
        add_unique(&mut p.subscribe.deny, &self.deny_sub);
        add_unique(&mut p.subscribe.deny, &self.deny_pubsub);
        if self.rm_response_perms {
            p.resp = None;
        }
        let max = self.allow_pub_response.or(self.max_responses);
        if max.is_some() || self.response_ttl.is_some() {
            let r = p.resp.get_or_insert(ResponsePermission {
                max_msgs: 1,
                expires_ns: 0,
            });
            if let Some(m) = max {
                r.max_msgs = m;
            }
            if let Some(t) = &self.response_ttl {
                r.expires_ns = parse_duration_ns(t)?;
            }
        }
        Ok(())
    }
}

/// rnats' rate quota (extra limit fields nats-server ignores): messages and
/// bytes per second with a burst.
#[derive(Args, Debug, Clone, Default)]
pub struct RateFlags {
    /// rnats rate quota: messages per second (0 removes it)
    #[arg(long = "rate-msgs")]
    pub rate_msgs: Option<String>,
    /// rnats rate quota: payload bytes per second (0 removes it; units k/m/g, kib/mib/gib)
    #[arg(long = "rate-bytes")]
    pub rate_bytes: Option<String>,
    /// rnats rate quota: how long the rate may be exceeded at once ("500ms", "2s"; default 1s)
    #[arg(long = "rate-burst")]
    pub rate_burst: Option<String>,
}

impl RateFlags {
    /// True when a flag was given.
    pub fn any(&self) -> bool {
        self.rate_msgs.is_some() || self.rate_bytes.is_some() || self.rate_burst.is_some()
    }

    /// Applies the flags to `q`, checking every value.
    pub fn apply(&self, q: &mut jwt::RateQuota) -> Result<()> {
        let count = |s: &str, what: &str| -> Result<i64> {
            let n = parse_number(s)?;
            if n < 0 {
                bail!("{what} must not be negative");
            }
            Ok(n)
        };
        if let Some(s) = &self.rate_msgs {
            q.msgs_per_sec = count(s, "--rate-msgs")?;
        }
        if let Some(s) = &self.rate_bytes {
            q.bytes_per_sec = count(s, "--rate-bytes")?;
        }
        if let Some(s) = &self.rate_burst {
            let ns = parse_duration_ns(s)?;
            if ns <= 0 {
                bail!("--rate-burst must be a positive duration");
            }
            q.burst_ms = (ns / 1_000_000).max(1);
        }
        Ok(())
    }
}

/// User limits: times, locale, source networks, connection types, subs,
/// data, payload, bearer (nsc's `UserPermissionLimits` minus permissions).
#[derive(Args, Debug, Clone, Default)]
pub struct UserLimitFlags {
    /// Add a start-end time range of the form "HH:MM:SS-HH:MM:SS" (option can be specified multiple times)
    #[arg(long = "time")]
    pub time: Vec<String>,
    /// Remove a time range by its start time "HH:MM:SS" (option can be specified multiple times)
    #[arg(long = "rm-time", value_delimiter = ',')]
    pub rm_time: Vec<String>,
    /// Set the IANA time zone the time ranges are interpreted in
    #[arg(long)]
    pub locale: Option<String>,
    /// Add source networks (CIDR) for connections - comma separated list or option can be specified multiple times
    #[arg(long = "source-network", value_delimiter = ',')]
    pub source_network: Vec<String>,
    /// Remove source networks - comma separated list or option can be specified multiple times
    #[arg(long = "rm-source-network", value_delimiter = ',')]
    pub rm_source_network: Vec<String>,
    /// Set allowed connection types: STANDARD WEBSOCKET LEAFNODE LEAFNODE_WS MQTT MQTT_WS IN_PROCESS - comma separated list or option can be specified multiple times
    #[arg(long = "conn-type", value_delimiter = ',')]
    pub conn_type: Vec<String>,
    /// Remove connection types - comma separated list or option can be specified multiple times
    #[arg(long = "rm-conn-type", value_delimiter = ',')]
    pub rm_conn_type: Vec<String>,
    /// Set maximum number of subscriptions (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub subs: Option<String>,
    /// Set maximum data in bytes for the user (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub data: Option<String>,
    /// Set maximum message payload in bytes (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub payload: Option<String>,
    /// No connect challenge required for user (--bearer=false to clear)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub bearer: Option<bool>,
    #[command(flatten)]
    pub rate: RateFlags,
}

impl UserLimitFlags {
    /// True when a flag was given.
    pub fn any(&self) -> bool {
        !(self.time.is_empty()
            && self.rm_time.is_empty()
            && self.locale.is_none()
            && self.source_network.is_empty()
            && self.rm_source_network.is_empty()
            && self.conn_type.is_empty()
            && self.rm_conn_type.is_empty()
            && self.subs.is_none()
            && self.data.is_none()
            && self.payload.is_none()
            && self.bearer.is_none()
            && !self.rate.any())
    }

    /// Applies the flags to `u`, checking every value.
    pub fn apply(&self, u: &mut UserPermissionLimits) -> Result<()> {
        self.rate.apply(&mut u.rate)?;
        for t in &self.rm_time {
            u.times.retain(|r| r.start != t.trim());
        }
        for t in &self.time {
            let (start, end) = t
                .split_once('-')
                .ok_or_else(|| anyhow!("time range {t:?} must be HH:MM:SS-HH:MM:SS"))?;
            let (start, end) = (start.trim(), end.trim());
            if parse_hms(start).is_none() || parse_hms(end).is_none() {
                bail!("time range {t:?} must be HH:MM:SS-HH:MM:SS");
            }
            if !u.times.iter().any(|r| r.start == start && r.end == end) {
                u.times.push(TimeRange {
                    start: start.into(),
                    end: end.into(),
                });
            }
        }
        if let Some(l) = &self.locale {
            u.locale = l.trim().to_string();
        }
        for n in &self.rm_source_network {
            let n = n.trim().to_lowercase();
            u.src.retain(|x| *x != n);
        }
        for n in &self.source_network {
            let n = n.trim().to_lowercase();
            if n.is_empty() {
                continue;
            }
            let ok = n
                .split_once('/')
                .map(|(ip, bits)| {
                    ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok()
                })
                .unwrap_or(false);
            if !ok {
                bail!("invalid source network {n:?}: expected a CIDR such as 192.168.1.0/24");
            }
            if !u.src.contains(&n) {
                u.src.push(n);
            }
        }
        for c in &self.rm_conn_type {
            let c = c.trim().to_uppercase();
            u.allowed_connection_types.retain(|x| *x != c);
        }
        for c in &self.conn_type {
            let c = c.trim().to_uppercase();
            if !jwt::connection_type::ALL.contains(&c.as_str()) {
                bail!(
                    "unknown connection type {c:?}: expected one of {}",
                    jwt::connection_type::ALL.join(", ")
                );
            }
            if !u.allowed_connection_types.contains(&c) {
                u.allowed_connection_types.push(c);
            }
        }
        if let Some(v) = &self.subs {
            u.limits.subs = parse_number(v)?;
        }
        if let Some(v) = &self.data {
            u.limits.data = parse_number(v)?;
        }
        if let Some(v) = &self.payload {
            u.limits.payload = parse_number(v)?;
        }
        if let Some(b) = self.bearer {
            u.bearer_token = b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("-1").unwrap(), -1);
        assert_eq!(parse_number("100").unwrap(), 100);
        assert_eq!(parse_number("1k").unwrap(), 1000);
        assert_eq!(parse_number("1KB").unwrap(), 1000);
        assert_eq!(parse_number("1KiB").unwrap(), 1024);
        assert_eq!(parse_number("2M").unwrap(), 2_000_000);
        assert_eq!(parse_number("1.5mib").unwrap(), 1_572_864);
        assert!(parse_number("1x").is_err());
        assert!(parse_number("k").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        let now = days_from_civil(2024, 1, 15) * 86400 + 3600;
        assert_eq!(parse_expiry("0", now).unwrap(), 0);
        assert_eq!(parse_expiry("", now).unwrap(), 0);
        assert_eq!(parse_expiry("2m", now).unwrap(), now + 120);
        assert_eq!(parse_expiry("1h", now).unwrap(), now + 3600);
        assert_eq!(parse_expiry("2d", now).unwrap(), now + 2 * 86400);
        assert_eq!(parse_expiry("1w", now).unwrap(), now + 7 * 86400);
        assert_eq!(
            parse_expiry("1M", now).unwrap(),
            days_from_civil(2024, 2, 15) * 86400 + 3600
        );
        assert_eq!(
            parse_expiry("1y", now).unwrap(),
            days_from_civil(2025, 1, 15) * 86400 + 3600
        );
        assert_eq!(
            parse_expiry("2030-06-01", now).unwrap(),
            days_from_civil(2030, 6, 1) * 86400
        );
        assert_eq!(
            parse_expiry("2030-06-01 10:00:00 UTC", now).unwrap(),
            days_from_civil(2030, 6, 1) * 86400 + 36000
        );
        assert!(parse_expiry("1.5d", now).is_err());
        assert!(parse_expiry("3x", now).is_err());
        assert!(parse_expiry("2030-13-01", now).is_err());
        assert_eq!(
            format_unix(days_from_civil(2030, 6, 1) * 86400 + 61),
            "2030-06-01 00:01:01 UTC"
        );
    }

    #[test]
    fn rfc3339_and_at() {
        let base = days_from_civil(2024, 3, 1) * 86400;
        assert_eq!(parse_rfc3339("2024-03-01T00:00:10Z"), Some(base + 10));
        assert_eq!(parse_rfc3339("2024-03-01T01:00:00+01:00"), Some(base));
        assert_eq!(parse_rfc3339("2024-03-01T00:00:00.123Z"), Some(base));
        assert_eq!(parse_at(None, 5).unwrap(), 5);
        assert_eq!(parse_at(Some("0"), 5).unwrap(), 5);
        assert_eq!(parse_at(Some("1234"), 5).unwrap(), 1234);
        assert!(parse_at(Some("yesterday"), 5).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("5s").unwrap(), 5_000_000_000);
        assert_eq!(parse_duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("250ms").unwrap(), 250_000_000);
        assert!(parse_duration_ns("5").is_err());
        assert!(parse_duration_ns("5x").is_err());
        assert!(parse_duration_ns("").is_err());
    }

    #[test]
    fn perms() {
        let mut p = Permissions::default();
        let f = PermFlags {
            allow_pubsub: vec!["a.>".into()],
            deny_sub: vec!["a.secret".into()],
            allow_pub_response: Some(3),
            response_ttl: Some("1s".into()),
            ..Default::default()
        };
        f.apply(&mut p).unwrap();
        assert_eq!(p.publish.allow, vec!["a.>"]);
        assert_eq!(p.subscribe.allow, vec!["a.>"]);
        assert_eq!(p.subscribe.deny, vec!["a.secret"]);
        assert_eq!(p.resp.as_ref().unwrap().max_msgs, 3);
        assert_eq!(p.resp.as_ref().unwrap().expires_ns, 1_000_000_000);
        let rm = PermFlags {
            rm: vec!["a.>".into()],
            rm_response_perms: true,
            ..Default::default()
        };
        rm.apply(&mut p).unwrap();
        assert!(p.publish.allow.is_empty() && p.subscribe.allow.is_empty() && p.resp.is_none());
        let bad = PermFlags {
            allow_pub: vec!["a..b".into()],
            ..Default::default()
        };
        assert!(bad.apply(&mut p).is_err());
    }

    #[test]
    fn limits() {
        let mut u = UserPermissionLimits::default();
        let f = UserLimitFlags {
            time: vec!["08:00:00-17:00:00".into()],
            source_network: vec!["10.0.0.0/8".into()],
            conn_type: vec!["websocket".into()],
            subs: Some("10".into()),
            payload: Some("1k".into()),
            bearer: Some(true),
            ..Default::default()
        };
        f.apply(&mut u).unwrap();
        assert_eq!(u.times[0].end, "17:00:00");
        assert_eq!(u.src, vec!["10.0.0.0/8"]);
        assert_eq!(u.allowed_connection_types, vec!["WEBSOCKET"]);
        assert_eq!(u.limits.subs, 10);
        assert_eq!(u.limits.payload, 1000);
        assert!(u.bearer_token);
        for bad in [
            UserLimitFlags {
                time: vec!["8-17".into()],
                ..Default::default()
            },
            UserLimitFlags {
                source_network: vec!["10.0.0.0".into()],
                ..Default::default()
            },
            UserLimitFlags {
                conn_type: vec!["CARRIER_PIGEON".into()],
                ..Default::default()
            },
        ] {
            assert!(bad.apply(&mut u).is_err());
        }
    }
}
