//! The system account's services, built on the server core: `$SYS`
//! advisories about connections and accounts, the `$SYS.REQ` requests
//! (server and account statistics, user info), and the claim requests that
//! push, look up and delete account JWTs in operator mode.
//!
//! - [`events`]: advisories, periodic statistics, the request handlers.
//! - [`latency`]: service latency reports.
//! - [`claims`]: `$SYS` claim updates and what they do to live connections.
//! - [`request_options`]: the filters and options system requests accept.

pub mod claims;
pub mod events;
pub mod latency;
pub mod request_options;

use std::sync::Arc;

use crate::server::client::ClientShared;
use crate::server::close::CloseReason;
use crate::server::{ConnectionEvents, Server};

/// Installs the system services in `server`: the request handlers in the
/// system account and the connection advisories.
pub fn install(server: &Arc<Server>) {
    events::install(server);
    claims::install(server);
    server.set_events(Box::new(Advisories));
}

/// Publishes nats-server's connection advisories.
struct Advisories;

impl ConnectionEvents for Advisories {
    fn connected(&self, server: &Server, c: &ClientShared) {
        events::client_connected(server, c);
    }

    fn disconnected(
        &self,
        server: &Server,
        c: &ClientShared,
        reason: CloseReason,
        was_connected: bool,
    ) {
        events::client_disconnected(server, c, reason, was_connected);
    }

    fn auth_failed(&self, server: &Server, c: &ClientShared, reason: &str) {
        events::auth_error(server, c, reason);
    }

    fn remote_server_joined(&self, server: &Server) {
        events::all_account_conns(server);
    }

    fn service_latency(
        &self,
        server: &Server,
        samples: Vec<crate::tenancy::latency::LatencySample>,
    ) {
        for s in &samples {
            latency::report(server, s);
        }
    }
}
