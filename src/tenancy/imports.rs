//! Links between accounts: exports (what an account offers), and the forwards
//! an import installs so messages cross exactly where the config allows.
//!
//! A stream import installs a [`Forward::Stream`] in the *exporting* account's
//! forward index on the imported subject: a message published there is
//! renamed and forwarded once more in the importing account. A service import
//! installs a [`Forward::Service`] in the *importing* account on its local
//! subject: a request published there is renamed, its reply subject replaced
//! by a fresh `_R_.` subject of the exporter ([`ResponseForward`]), and forwarded
//! in the exporting account; the response travels back through that mapping
//! only. The payload is never copied for a stream; a service request gets
//! one copy, to stamp the `Nats-Request-Info` header.

use parking_lot::Mutex;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::account::Account;
use super::latency::{ServiceLatency, Tracking};
use super::transform::Transform;

/// How many responses a service request may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One response; the mapping is gone after it.
    #[default]
    Singleton,
    /// Any number of responses until `threshold` passes without one.
    Stream,
    /// As `Stream`, for one response split into chunks.
    Chunked,
}

impl ResponseType {
    /// Parses nats-server's config and JWT spellings.
    pub fn parse(s: &str) -> Option<ResponseType> {
        match s.to_ascii_lowercase().as_str() {
            "single" | "singleton" => Some(ResponseType::Singleton),
            "stream" => Some(ResponseType::Stream),
            "chunk" | "chunked" => Some(ResponseType::Chunked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Stream => "Stream",
            ResponseType::Chunked => "Chunked",
        }
    }
}

/// nats-server's default time a stream/chunked response mapping lives
/// without a response.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// Who may import an export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExportAuth {
    /// Anyone.
    #[default]
    Public,
    /// Only the listed accounts (config `accounts: [...]`).
    Accounts(Vec<String>),
    /// Only importers presenting a valid activation token (JWT `token_req`);
    /// the check is done by whoever sets up the import.
    Token,
    /// The importer's own name must be the n-th token (1-based) of the
    /// imported subject (`account_token_position`).
    TokenPosition(usize),
}

/// One exported subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub subject: String,
    pub auth: ExportAuth,
    /// Services only.
    pub response_type: ResponseType,
    pub response_threshold: Duration,
    /// Services only: latency tracking of requests crossing its imports.
    pub latency: Option<Arc<ServiceLatency>>,
}

/// What an account exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exports {
    pub streams: Vec<Export>,
    pub services: Vec<Export>,
}

impl Exports {
    /// The stream export under which `importer` may import `subject`.
    pub fn stream_for(&self, importer: &str, subject: &str) -> Option<&Export> {
        authorized(&self.streams, importer, subject)
    }

    /// The service export under which `importer` may import `subject`.
    pub fn service_for(&self, importer: &str, subject: &str) -> Option<&Export> {
        authorized(&self.services, importer, subject)
    }

    /// The service export covering `subject` (whoever asks).
    pub fn service_covering(&self, subject: &str) -> Option<&Export> {
        self.services
            .iter()
            .find(|e| crate::subject::subject_is_subset(subject, &e.subject))
    }
}

/// The first export that covers all of `subject` and admits `importer`.
fn authorized<'a>(list: &'a [Export], importer: &str, subject: &str) -> Option<&'a Export> {
    if !crate::subject::is_valid_subject(subject) {
        return None;
    }
    list.iter().find(|e| {
        crate::subject::subject_is_subset(subject, &e.subject)
            && match &e.auth {
                ExportAuth::Public | ExportAuth::Token => true,
                ExportAuth::Accounts(names) => names.iter().any(|n| n == importer),
                ExportAuth::TokenPosition(pos) => subject
                    .split('.')
                    .nth(pos.saturating_sub(1))
                    .is_some_and(|t| t == importer),
            }
    })
}

/// A stream import, installed in the exporting account.
#[derive(Debug)]
pub struct StreamForward {
    /// The account receiving the messages.
    pub importer: Arc<Account>,
    /// Renames the exporter's subject into the importer's (`None` = same).
    pub transform: Option<Transform>,
}

/// A service import, installed in the importing account on its local
/// subject.
#[derive(Debug)]
pub struct ServiceForward {
    /// The account whose responders answer.
    pub exporter: Arc<Account>,
    /// Renames the importer's local subject into the exporter's (`None` =
    /// same).
    pub transform: Option<Transform>,
    pub response_type: ResponseType,
    pub response_threshold: Duration,
    /// The export's latency tracking, if it has some.
    pub latency: Option<Arc<ServiceLatency>>,
    /// The importer shares its requestors' details with the exporter's
    /// latency reports (`share: true`).
    pub share: bool,
    /// Installed by the server in every account (the system requests an
    /// account may make about itself), not by the account's own imports:
    /// re-applying the account's claims keeps it.
    pub automatic: bool,
}

/// A request or event the server handles itself (system account).
pub struct InternalForward {
    pub name: &'static str,
    pub handler: InternalHandler,
    /// Every member of a cluster answers it (its subject is announced to
    /// the routes, as nats-server's system subscriptions are), rather than
    /// only the server the requester is on.
    pub cluster_wide: bool,
}

/// Called with (subject, reply, payload, id of the publishing connection; 0
/// for the server) of a message forwarded to it.
pub type InternalHandler = Box<dyn Fn(&str, Option<&[u8]>, &[u8], u64) + Send + Sync>;

impl std::fmt::Debug for InternalForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalForward")
            .field("name", &self.name)
            .finish()
    }
}

/// An entry of an account's forward index.
#[derive(Debug, Clone)]
pub enum Forward {
    Stream(Arc<StreamForward>),
    Service(Arc<ServiceForward>),
    Internal(Arc<InternalForward>),
}

impl PartialEq for Forward {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Forward::Stream(a), Forward::Stream(b)) => Arc::ptr_eq(a, b),
            (Forward::Service(a), Forward::Service(b)) => Arc::ptr_eq(a, b),
            (Forward::Internal(a), Forward::Internal(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Forward {
    /// The account on the other side of the link, if any.
    pub fn other_account(&self) -> Option<&Arc<Account>> {
        match self {
            Forward::Stream(s) => Some(&s.importer),
            Forward::Service(s) => Some(&s.exporter),
            Forward::Internal(_) => None,
        }
    }
}

/// Where the responses to one cross-account request go.
#[derive(Debug)]
pub struct ResponseForward {
    /// The requester's account.
    pub requester: Arc<Account>,
    /// The requester's own reply subject.
    pub reply: Box<[u8]>,
    pub response_type: ResponseType,
    pub threshold: Duration,
    last: Mutex<Instant>,
    /// The request is being measured (latency tracking).
    pub tracking: Option<Tracking>,
}

impl ResponseForward {
    pub fn new(
        requester: Arc<Account>,
        reply: &[u8],
        response_type: ResponseType,
        threshold: Duration,
    ) -> ResponseForward {
        ResponseForward {
            requester,
            reply: reply.into(),
            response_type,
            threshold,
            last: Mutex::new(Instant::now()),
            tracking: None,
        }
    }

    /// The same, for a request whose latency is measured.
    pub fn tracked(mut self, tracking: Tracking) -> ResponseForward {
        self.tracking = Some(tracking);
        self
    }

    /// A singleton mapping is gone after its one response.
    pub fn single_use(&self) -> bool {
        self.response_type == ResponseType::Singleton
    }

    /// A response passed: the threshold starts again.
    pub fn touch(&self) {
        *self.last.lock() = Instant::now();
    }

    /// No response for longer than the threshold. A singleton that never got
    /// its response also expires, so unanswered requests do not pile up.
    pub fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(*self.last.lock()) > self.threshold
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters.
pub fn random_token(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect()
}

/// Appends `n` random base62 characters from `rng` to `out`.
pub fn push_random_token(out: &mut Vec<u8>, rng: &mut impl Rng, n: usize) {
    for _ in 0..n {
        out.push(BASE62[rng.gen_range(0..BASE62.len())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(subject: &str, auth: ExportAuth) -> Export {
        Export {
            subject: subject.into(),
            auth,
            response_type: ResponseType::Singleton,
            response_threshold: DEFAULT_RESPONSE_THRESHOLD,
            latency: None,
        }
    }

    #[test]
    fn import_must_lie_inside_an_export() {
        let ex = Exports {
            streams: vec![export("feed.public.>", ExportAuth::Public)],
            services: vec![],
        };
        assert!(ex.stream_for("B", "feed.public.x").is_some());
        assert!(ex.stream_for("B", "feed.public.>").is_some());
        assert!(ex.stream_for("B", "feed.>").is_none());
        assert!(ex.stream_for("B", "other").is_none());
        assert!(ex.service_for("B", "feed.public.x").is_none());
    }

    #[test]
    fn private_exports_admit_listed_accounts_only() {
        let ex = Exports {
            streams: vec![export("p.>", ExportAuth::Accounts(vec!["B".into()]))],
            services: vec![export(
                "$SYS.REQ.ACCOUNT.*.CONNZ",
                ExportAuth::TokenPosition(4),
            )],
        };
        assert!(ex.stream_for("B", "p.x").is_some());
        assert!(ex.stream_for("C", "p.x").is_none());
        assert!(ex.service_for("C", "$SYS.REQ.ACCOUNT.C.CONNZ").is_some());
        assert!(ex.service_for("C", "$SYS.REQ.ACCOUNT.B.CONNZ").is_none());
    }

    #[test]
    fn response_types_parse() {
        assert_eq!(ResponseType::parse("single"), Some(ResponseType::Singleton));
        assert_eq!(ResponseType::parse("Chunked"), Some(ResponseType::Chunked));
        assert_eq!(ResponseType::parse("stream"), Some(ResponseType::Stream));
        assert_eq!(ResponseType::parse("x"), None);
    }

    #[test]
    fn random_tokens_are_base62() {
        let t = random_token(6);
        assert_eq!(t.len(), 6);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
