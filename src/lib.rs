//! rnats: a NATS-compatible message broker built for secure multi-tenancy.
//!
//! Map of the crate:
//! - [`config`]: the nats-server configuration language (lexer, parser into a
//!   value tree with line numbers) and the typed [`config::Options`].
//! - [`subject`]: subject validation and the subscription index ([`subject::Sublist`]):
//!   a token trie with `*`/`>` wildcards and a generation-checked result cache.
//! - [`protocol`]: the client protocol parser (a state machine over the read
//!   buffer) and the encoders for server-to-client operations.
//! - [`server`]: the core: listener, per-connection client loop, outbound
//!   buffers, the login pipeline and the fan-out of a publish.
//! - [`tenancy`]: accounts, exports/imports, JWT accounts, subject mappings
//!   and how account claims are applied.
//! - [`system`]: the system account's services (`$SYS` events, requests,
//!   claim updates), built on the core.
//! - [`node`]: starts a whole node (core, system services, monitoring) and
//!   stops it gracefully. See ARCHITECTURE.md for the paths of a PUB and a
//!   CONNECT and the lock order.
//! - [`nkeys`], [`jwt`], [`creds`]: NATS keys, JWT claims and creds files.
//! - [`logging`]: nats-server style log lines to stderr or a file.
//! - [`monitor`]: the HTTP monitoring endpoints and Prometheus metrics.
//! - [`tls`]: TLS for client connections and client-certificate identities.
//! - [`trust`], [`resolver`]: operator mode: trusted operators and where
//!   account JWTs come from (memory, account server URL, JWT directory).
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod creds;
pub mod jwt;
pub mod logging;
pub mod monitor;
pub mod nkeys;
pub mod node;
pub mod protocol;
pub mod quota;
pub mod resolver;
pub mod server;
pub mod streaming;
pub mod subject;
pub mod system;
pub mod tenancy;
pub mod tls;
pub mod trust;
pub mod websocket;

/// The nats-server version rnats reports in INFO and `--version`, so clients
/// that gate features on the server version behave as with the reference.
pub const VERSION: &str = "2.15.1";

/// rnats' own version.
pub const RNATS_VERSION: &str = env!("CARGO_PKG_VERSION");
