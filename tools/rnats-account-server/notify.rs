//! Telling NATS servers about new account JWTs: a request on
//! `$SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.UPDATE` as a system account user, the
//! subject servers with any resolver handle. The reply is only logged: an
//! unreachable NATS must not fail an HTTP POST that was stored.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// A connection to NATS for update notifications.
pub struct Notifier {
    client: async_nats::Client,
}

impl Notifier {
    /// Connects (retrying in the background if the server is not up yet).
    pub async fn connect(url: &str, creds: Option<&Path>) -> Result<Notifier> {
        let mut o = async_nats::ConnectOptions::new()
            .name("rnats-account-server")
            .retry_on_initial_connect()
            .request_timeout(Some(Duration::from_secs(2)));
        if let Some(c) = creds {
            o = o
                .credentials_file(c)
                .await
                .with_context(|| format!("cannot read creds file {}", c.display()))?;
        }
        let client = o
            .connect(url)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        Ok(Notifier { client })
    }

    /// Sends the update in the background (the HTTP reply does not wait)
    /// and logs the first reply.
    pub fn publish(&self, account: &str, jwt: &str) {
        let subject = format!("$SYS.REQ.ACCOUNT.{account}.CLAIMS.UPDATE");
        let (client, account, jwt) = (self.client.clone(), account.to_string(), jwt.to_string());
        tokio::spawn(async move {
            match client.request(subject, jwt.into()).await {
                Ok(m) => log::info!(
                    "notified servers of {account}: {}",
                    String::from_utf8_lossy(&m.payload)
                ),
                Err(e) => log::warn!("notifying servers of {account} failed: {e}"),
            }
        });
    }
}
