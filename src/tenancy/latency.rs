//! Service latency tracking: which requests crossing a service import are
//! measured, and what one measurement holds.
//!
//! An export with `latency { sampling, subject }` (config) or
//! `service_latency { sampling, results }` (JWT) has a share of the requests
//! that cross its imports measured, as nats-server measures them: from the
//! request entering the exporter to the first response leaving it, with the
//! requestor's and responder's round-trip times added. The result
//! ([`LatencySample`]) is published in the exporter's account by the system
//! services; requests that never get an answer are reported with nats-server's
//! status codes (400, 408, 503, 504).

use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::account::Account;
use crate::server::client::ClientShared;

/// How many requests are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// This percentage (1..=100) of requests, plus those whose trace headers
    /// ask for it.
    Percent(u8),
    /// Only requests whose trace headers ask for it (`"headers"`).
    Headers,
}

impl Sampling {
    /// nats-server's default when only a subject is given.
    pub const DEFAULT: Sampling = Sampling::Percent(100);

    /// The JWT form: 1..=100, or 0 for headers.
    pub fn from_jwt(n: i64) -> Option<Sampling> {
        match n {
            0 => Some(Sampling::Headers),
            1..=100 => Some(Sampling::Percent(n as u8)),
            _ => None,
        }
    }

    /// As `/accountz` and JWTs show it: the percentage, or 0 for headers.
    pub fn as_number(self) -> i64 {
        match self {
            Sampling::Percent(p) => p as i64,
            Sampling::Headers => 0,
        }
    }
}

/// Latency tracking of one service export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLatency {
    pub sampling: Sampling,
    /// Where results are published, in the exporting account.
    pub subject: String,
}

/// The trace headers that decided a request was sampled, reported with
/// the measurement (canonical MIME names, as Go's `http.Header` keeps them).
pub type TraceHeaders = Vec<(String, Vec<String>)>;

impl ServiceLatency {
    /// Whether to measure a request with this header block (`None` without
    /// headers): `Some` with the headers that asked for it, `None` to let it
    /// pass unmeasured. nats-server's rule: the percentage first, then the
    /// Uber, B3 and W3C trace-context headers.
    pub fn sample(&self, header: Option<&[u8]>, rng: &mut impl Rng) -> Option<TraceHeaders> {
        if let Sampling::Percent(p) = self.sampling {
            // nats-server samples when rand(0..100) <= p.
            if p >= 100 || rng.gen_range(0..100u8) <= p {
                return Some(Vec::new());
            }
        }
        let fields = parse_header_block(header?);
        if fields.is_empty() {
            return None;
        }
        trace_sampled(&fields)
    }
}

/// The fields of a `NATS/1.0` header block, keys canonicalised.
fn parse_header_block(block: &[u8]) -> TraceHeaders {
    let text = String::from_utf8_lossy(block);
    let mut fields: TraceHeaders = Vec::new();
    for line in text.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let key = canonical_key(k.trim());
        let value = v.trim().to_owned();
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, vals)) => vals.push(value),
            None => fields.push((key, vec![value])),
        }
    }
    fields
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: each dash-separated word
/// capitalised.
fn canonical_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut upper = true;
    for c in k.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

fn get<'a>(fields: &'a TraceHeaders, key: &str) -> Option<&'a Vec<String>> {
    fields
        .iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v)
}

fn pick(fields: &TraceHeaders, keys: &[&str]) -> TraceHeaders {
    fields
        .iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// The trace-header half of nats-server's `shouldSample`.
fn trace_sampled(fields: &TraceHeaders) -> Option<TraceHeaders> {
    const B3: &[&str] = &[
        "X-B3-Sampled",
        "X-B3-Traceid",
        "X-B3-Parentspanid",
        "X-B3-Spanid",
    ];
    if let Some(id) = get(fields, "Uber-Trace-Id") {
        // trace-id:span-id:parent-id:flags, sampled when flags' low bit is set.
        let flags = id[0]
            .split(':')
            .nth(3)
            .filter(|_| id[0].split(':').count() == 4);
        let sampled = flags
            .filter(|f| !f.is_empty() && f.len() <= 2)
            .and_then(|f| u8::from_str_radix(f, 16).ok())
            .is_some_and(|f| f & 1 == 1);
        if !sampled {
            return None;
        }
        let mut out = vec![("Uber-Trace-Id".to_owned(), id.clone())];
        out.extend(
            fields
                .iter()
                .filter(|(k, _)| k.starts_with("Uberctx-"))
                .cloned(),
        );
        return Some(out);
    }
    if let Some(s) = get(fields, "X-B3-Sampled") {
        return (s[0] == "1").then(|| pick(fields, B3));
    }
    if get(fields, "X-B3-Traceid").is_some() {
        return Some(pick(fields, B3));
    }
    if let Some(b3) = get(fields, "B3") {
        let tk: Vec<&str> = b3[0].split('-').collect();
        let denied = (tk.len() > 2 && tk[2] == "0") || (tk.len() == 1 && tk[0] == "0");
        return (!denied).then(|| vec![("B3".to_owned(), b3.clone())]);
    }
    if let Some(tp) = get(fields, "Traceparent") {
        // version-trace-id-parent-id-flags
        let tk: Vec<&str> = tp[0].split('-').collect();
        let sampled = tk.len() == 4
            && tk[3].len() == 2
            && i8::from_str_radix(tk[3], 16).is_ok_and(|f| f & 1 == 1);
        return sampled.then(|| pick(fields, &["Traceparent", "Tracestate"]));
    }
    None
}

/// A measured request waiting for its response, kept in the response
/// mapping of the exporter.
#[derive(Debug)]
pub struct Tracking {
    pub latency: Arc<ServiceLatency>,
    /// The requesting connection (`None` for the server's own requests).
    pub requestor: Option<Arc<ClientShared>>,
    /// The importer agreed to share the requestor's details (`share`).
    pub share: bool,
    pub header: TraceHeaders,
    /// When the request entered the exporter.
    pub sent: Instant,
    pub sent_wall: SystemTime,
    /// The measurement was reported (by the first response, a timeout or
    /// lost interest); only one report per request.
    reported: AtomicBool,
}

impl Tracking {
    pub fn new(
        latency: Arc<ServiceLatency>,
        requestor: Option<Arc<ClientShared>>,
        share: bool,
        header: TraceHeaders,
    ) -> Tracking {
        Tracking {
            latency,
            requestor,
            share,
            header,
            sent: Instant::now(),
            sent_wall: SystemTime::now(),
            reported: AtomicBool::new(false),
        }
    }

    /// Claims the one report of this request; false when it was made.
    pub fn claim_report(&self) -> bool {
        !self.reported.swap(true, Ordering::AcqRel)
    }

    /// The measurement of the first response, sent by `responder`.
    pub fn answered(
        &self,
        exporter: &Arc<Account>,
        responder: Option<Arc<ClientShared>>,
    ) -> LatencySample {
        let now = Instant::now();
        let service_rtt = now.saturating_duration_since(self.sent);
        let req_rtt = self.requestor.as_ref().map(|c| c.rtt()).unwrap_or_default();
        let resp_rtt = responder.as_ref().map(|c| c.rtt()).unwrap_or_default();
        let mut total = req_rtt + service_rtt;
        let mut system = Duration::ZERO;
        if !resp_rtt.is_zero() {
            system = now.elapsed();
            total += system;
        }
        LatencySample {
            exporter: exporter.clone(),
            subject: self.latency.subject.clone(),
            status: Status::Ok,
            requestor: self.requestor.clone(),
            share: self.share,
            responder,
            header: self.header.clone(),
            start: self.sent_wall - req_rtt,
            service: service_rtt.saturating_sub(resp_rtt),
            system,
            total,
        }
    }

    /// The measurement of a request that got no answer.
    pub fn failed(&self, exporter: &Arc<Account>, status: Status) -> LatencySample {
        let req_rtt = self.requestor.as_ref().map(|c| c.rtt()).unwrap_or_default();
        LatencySample {
            exporter: exporter.clone(),
            subject: self.latency.subject.clone(),
            status,
            requestor: self.requestor.clone(),
            share: self.share,
            responder: None,
            header: self.header.clone(),
            start: self.sent_wall - req_rtt,
            service: Duration::ZERO,
            system: Duration::ZERO,
            total: Duration::ZERO,
        }
    }
}

/// The outcome of a measured request, with nats-server's codes and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Answered.
    Ok,
    /// A sampled request without a reply subject.
    BadRequest,
    /// The requestor stopped listening before the answer.
    RequestTimeout,
    /// No responder got the request.
    ServiceUnavailable,
    /// No answer within the export's response threshold.
    ServiceTimeout,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::RequestTimeout => 408,
            Status::ServiceUnavailable => 503,
            Status::ServiceTimeout => 504,
        }
    }

    /// The `description` nats-server gives (none for 200).
    pub fn description(self) -> Option<&'static str> {
        match self {
            Status::Ok => None,
            Status::BadRequest => Some("Bad Request"),
            Status::RequestTimeout => Some("Request Timeout"),
            Status::ServiceUnavailable => Some("Service Unavailable"),
            Status::ServiceTimeout => Some("Service Timeout"),
        }
    }
}

/// One measurement, to be published on `subject` in `exporter`.
#[derive(Debug)]
pub struct LatencySample {
    pub exporter: Arc<Account>,
    pub subject: String,
    pub status: Status,
    pub requestor: Option<Arc<ClientShared>>,
    /// Whether the requestor's details beyond account and RTT are shown.
    pub share: bool,
    pub responder: Option<Arc<ClientShared>>,
    pub header: TraceHeaders,
    /// When the request left the requestor (its arrival minus its RTT).
    pub start: SystemTime,
    pub service: Duration,
    pub system: Duration,
    pub total: Duration,
}

impl LatencySample {
    /// A sampled request that had no reply subject.
    pub fn bad_request(
        exporter: &Arc<Account>,
        latency: &ServiceLatency,
        requestor: Option<Arc<ClientShared>>,
        share: bool,
        header: TraceHeaders,
    ) -> LatencySample {
        let req_rtt = requestor.as_ref().map(|c| c.rtt()).unwrap_or_default();
        LatencySample {
            exporter: exporter.clone(),
            subject: latency.subject.clone(),
            status: Status::BadRequest,
            requestor,
            share,
            responder: None,
            header,
            start: SystemTime::now() - req_rtt,
            service: Duration::ZERO,
            system: Duration::ZERO,
            total: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn headers(lines: &[&str]) -> Vec<u8> {
        let mut s = String::from("NATS/1.0\r\n");
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }

    fn by_headers() -> ServiceLatency {
        ServiceLatency {
            sampling: Sampling::Headers,
            subject: "lat".into(),
        }
    }

    #[test]
    fn full_sampling_measures_every_request() {
        let l = ServiceLatency {
            sampling: Sampling::Percent(100),
            subject: "lat".into(),
        };
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(l.sample(None, &mut rng), Some(vec![]));
    }

    #[test]
    fn header_sampling_follows_trace_context() {
        let mut rng = SmallRng::seed_from_u64(1);
        let l = by_headers();
        assert_eq!(l.sample(None, &mut rng), None);
        let yes = headers(&[
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate: a=b",
            "other: x",
        ]);
        let got = l.sample(Some(&yes), &mut rng).expect("sampled");
        assert_eq!(
            got,
            vec![
                (
                    "Traceparent".to_owned(),
                    vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()]
                ),
                ("Tracestate".to_owned(), vec!["a=b".to_owned()]),
            ]
        );
        let no = headers(&["traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"]);
        assert_eq!(l.sample(Some(&no), &mut rng), None);
    }

    #[test]
    fn header_sampling_follows_b3_and_uber() {
        let mut rng = SmallRng::seed_from_u64(1);
        let l = by_headers();
        let b3_on = headers(&["X-B3-Sampled: 1", "X-B3-TraceId: 80f198ee56343ba8"]);
        let got = l.sample(Some(&b3_on), &mut rng).expect("sampled");
        assert_eq!(got.len(), 2);
        assert!(l
            .sample(
                Some(&headers(&["X-B3-Sampled: 0", "X-B3-TraceId: 1"])),
                &mut rng
            )
            .is_none());
        assert!(l
            .sample(
                Some(&headers(&["X-B3-TraceId: 80f198ee56343ba8"])),
                &mut rng
            )
            .is_some());
        assert!(l.sample(Some(&headers(&["b3: 0"])), &mut rng).is_none());
        assert!(l
            .sample(Some(&headers(&["b3: 80f1-e457-1-05e3"])), &mut rng)
            .is_some());
        assert!(l
            .sample(
                Some(&headers(&["uber-trace-id: 479f:5adb:479f:1"])),
                &mut rng
            )
            .is_some());
        assert!(l
            .sample(
                Some(&headers(&["uber-trace-id: 479f:5adb:479f:0"])),
                &mut rng
            )
            .is_none());
    }

    #[test]
    fn keys_are_canonicalised_as_go_does() {
        assert_eq!(canonical_key("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(canonical_key("TRACEPARENT"), "Traceparent");
    }

    #[test]
    fn statuses_carry_nats_server_codes() {
        assert_eq!(Status::ServiceUnavailable.code(), 503);
        assert_eq!(
            Status::ServiceTimeout.description(),
            Some("Service Timeout")
        );
        assert_eq!(Status::Ok.description(), None);
    }
}
