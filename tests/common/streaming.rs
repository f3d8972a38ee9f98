//! Streaming test helpers: an `rnats-streaming-server` process (killed when
//! dropped, restartable on the same store) and a small STAN client over
//! async-nats for protocol-level checks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use prost::Message;

use rnats::streaming::proto::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_rnats-streaming-server");

/// A streaming server process.
pub struct Stan {
    pub child: Child,
    pub port: u16,
    pub http: u16,
    pub log: PathBuf,
    pub args: Vec<String>,
}

impl Drop for Stan {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stan {
    /// Starts the binary with `args` on free client and monitoring ports,
    /// logging to `log`; waits for "Streaming Server is ready" (or, with
    /// `ready = false`, only for the process to be up).
    pub fn start(log: &Path, args: &[&str]) -> Stan {
        Stan::try_start(log, args, "Streaming Server is ready").unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(log: &Path, args: &[&str], ready: &str) -> Result<Stan, String> {
        let port = super::free_port();
        let http = super::free_port();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        Stan::spawn(log, port, http, args, ready)
    }

    fn spawn(
        log: &Path,
        port: u16,
        http: u16,
        args: Vec<String>,
        ready: &str,
    ) -> Result<Stan, String> {
        let before = std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches(ready)
            .count();
        let child = Command::new(BIN)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                &http.to_string(),
            ])
            .arg("-l")
            .arg(log)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = Stan {
            child,
            port,
            http,
            log: log.to_owned(),
            args,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while s.log_text().matches(ready).count() <= before {
            if let Some(status) = s.child.try_wait().unwrap() {
                return Err(format!("exited ({status}) before ready:\n{}", s.log_text()));
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready after 15s:\n{}", s.log_text()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    /// Starts again with the same ports, arguments and log (after a stop
    /// or a kill), waiting for readiness.
    pub fn restart(mut self) -> Stan {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (log, port, http, args) = (self.log.clone(), self.port, self.http, self.args.clone());
        std::mem::forget(self);
        Stan::spawn(&log, port, http, args, "Streaming Server is ready")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM and a bounded wait for a clean exit.
    pub fn stop(&mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET on the monitoring port: status and body.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path).await
    }
}

/// A minimal HTTP/1.1 GET on loopback.
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// A STAN client speaking the protocol over async-nats.
pub struct StanClient {
    pub nc: async_nats::Client,
    pub id: String,
    pub conn_id: Vec<u8>,
    pub info: ConnectResponse,
    acks: String,
    ack_sub: async_nats::Subscriber,
    /// Answers the server's heartbeats; stopped on drop so the connection
    /// really goes away with the client.
    hb_task: tokio::task::JoinHandle<()>,
}

impl Drop for StanClient {
    fn drop(&mut self) {
        self.hb_task.abort();
    }
}

/// A subscription: its messages and the ack inbox the server gave it.
pub struct StanSub {
    pub msgs: async_nats::Subscriber,
    pub inbox: String,
    pub ack_inbox: String,
}

pub const WAIT: Duration = Duration::from_secs(5);

impl StanClient {
    /// Connects (answering the server's heartbeats) or returns the
    /// server's error text.
    pub async fn connect(url: &str, cluster: &str, id: &str) -> Result<StanClient, String> {
        let nc = async_nats::connect(url).await.map_err(|e| e.to_string())?;
        StanClient::connect_with(nc, cluster, id).await
    }

    pub async fn connect_with(
        nc: async_nats::Client,
        cluster: &str,
        id: &str,
    ) -> Result<StanClient, String> {
        let hb_inbox = nc.new_inbox();
        let mut hb = nc
            .subscribe(hb_inbox.clone())
            .await
            .map_err(|e| e.to_string())?;
        let hb_nc = nc.clone();
        let hb_task = tokio::spawn(async move {
            while let Some(m) = hb.next().await {
                if let Some(r) = m.reply {
                    let _ = hb_nc.publish(r, Bytes::new()).await;
                }
            }
        });
        let conn_id = nuid::next().to_string().into_bytes();
        let req = ConnectRequest {
            client_id: id.into(),
            heartbeat_inbox: hb_inbox,
            protocol: 1,
            conn_id: conn_id.clone(),
            ping_interval: 5,
            ping_max_out: 3,
        };
        let r = tokio::time::timeout(
            WAIT,
            nc.request(format!("_STAN.discover.{cluster}"), encode(&req).into()),
        )
        .await
        .map_err(|_| "stan: connect request timeout".to_owned())?
        .map_err(|e| e.to_string())?;
        let info = ConnectResponse::decode(r.payload.as_ref()).map_err(|e| e.to_string())?;
        if !info.error.is_empty() {
            return Err(info.error);
        }
        let acks = format!("_STAN.acks.{}", nuid::next());
        let ack_sub = nc
            .subscribe(acks.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(StanClient {
            nc,
            id: id.into(),
            conn_id,
            info,
            acks,
            ack_sub,
            hb_task,
        })
    }

    /// Publishes and waits for the PubAck: the error text, empty on success.
    pub async fn publish(&mut self, channel: &str, data: &[u8]) -> String {
        self.publish_as(channel, channel, data).await
    }

    /// Publishes on `<pubPrefix>.<nats_channel>` a PubMsg naming `channel`
    /// (the server takes the channel from the PubMsg).
    pub async fn publish_as(&mut self, nats_channel: &str, channel: &str, data: &[u8]) -> String {
        let guid = nuid::next().to_string();
        let m = PubMsg {
            client_id: self.id.clone(),
            guid: guid.clone(),
            subject: channel.into(),
            data: data.to_vec(),
            conn_id: self.conn_id.clone(),
            ..Default::default()
        };
        self.nc
            .publish_with_reply(
                format!("{}.{nats_channel}", self.info.pub_prefix),
                self.acks.clone(),
                encode(&m).into(),
            )
            .await
            .unwrap();
        loop {
            let m = tokio::time::timeout(WAIT, self.ack_sub.next())
                .await
                .expect("stan: publish ack timeout")
                .expect("ack subscription open");
            let a = PubAck::decode(m.payload.as_ref()).unwrap();
            if a.guid == guid {
                return a.error;
            }
        }
    }

    /// Publishes without waiting; the PubAcks are read later with
    /// [`StanClient::next_ack`].
    pub async fn publish_async(&mut self, channel: &str, data: &[u8], guid: &str) {
        let m = PubMsg {
            client_id: self.id.clone(),
            guid: guid.into(),
            subject: channel.into(),
            data: data.to_vec(),
            conn_id: self.conn_id.clone(),
            ..Default::default()
        };
        let _ = self
            .nc
            .publish_with_reply(
                format!("{}.{channel}", self.info.pub_prefix),
                self.acks.clone(),
                encode(&m).into(),
            )
            .await;
    }

    pub async fn next_ack(&mut self, within: Duration) -> Option<PubAck> {
        let m = tokio::time::timeout(within, self.ack_sub.next())
            .await
            .ok()??;
        PubAck::decode(m.payload.as_ref()).ok()
    }

    pub async fn subscribe(&self, req: SubscriptionRequest) -> Result<StanSub, String> {
        let inbox = if req.inbox.is_empty() {
            self.nc.new_inbox()
        } else {
            req.inbox.clone()
        };
        let msgs = self.nc.subscribe(inbox.clone()).await.unwrap();
        let req = SubscriptionRequest {
            client_id: if req.client_id.is_empty() {
                self.id.clone()
            } else {
                req.client_id
            },
            inbox: inbox.clone(),
            max_in_flight: if req.max_in_flight == 0 {
                1024
            } else {
                req.max_in_flight
            },
            ack_wait_in_secs: if req.ack_wait_in_secs == 0 {
                30
            } else {
                req.ack_wait_in_secs
            },
            ..req
        };
        let r = tokio::time::timeout(
            WAIT,
            self.nc
                .request(self.info.sub_requests.clone(), encode(&req).into()),
        )
        .await
        .map_err(|_| "stan: subscribe request timeout".to_owned())?
        .map_err(|e| e.to_string())?;
        let r = SubscriptionResponse::decode(r.payload.as_ref()).unwrap();
        if !r.error.is_empty() {
            return Err(r.error);
        }
        Ok(StanSub {
            msgs,
            inbox,
            ack_inbox: r.ack_inbox,
        })
    }

    pub async fn ack(&self, sub: &StanSub, m: &MsgProto) {
        let a = Ack {
            subject: m.subject.clone(),
            sequence: m.sequence,
        };
        self.nc
            .publish(sub.ack_inbox.clone(), encode(&a).into())
            .await
            .unwrap();
    }

    /// Unsubscribe (`close = false`) or close a subscription: the error.
    pub async fn unsubscribe(&self, channel: &str, sub: &StanSub, close: bool) -> String {
        let req = UnsubscribeRequest {
            client_id: self.id.clone(),
            subject: channel.into(),
            inbox: sub.ack_inbox.clone(),
            durable_name: String::new(),
        };
        let subject = if close {
            self.info.sub_close_requests.clone()
        } else {
            self.info.unsub_requests.clone()
        };
        let r = tokio::time::timeout(WAIT, self.nc.request(subject, encode(&req).into()))
            .await
            .expect("unsubscribe answered")
            .unwrap();
        SubscriptionResponse::decode(r.payload.as_ref())
            .unwrap()
            .error
    }

    pub async fn close(&self) -> String {
        let r = tokio::time::timeout(
            WAIT,
            self.nc.request(
                self.info.close_requests.clone(),
                encode(&CloseRequest {
                    client_id: self.id.clone(),
                })
                .into(),
            ),
        )
        .await
        .expect("close answered")
        .unwrap();
        CloseResponse::decode(r.payload.as_ref()).unwrap().error
    }

    /// A PING as the protocol-1 clients send: the error, empty when the
    /// server still knows this connection.
    pub async fn ping(&self) -> String {
        let r = tokio::time::timeout(
            WAIT,
            self.nc.request(
                self.info.ping_requests.clone(),
                encode(&Ping {
                    conn_id: self.conn_id.clone(),
                })
                .into(),
            ),
        )
        .await
        .expect("ping answered")
        .unwrap();
        PingResponse::decode(r.payload.as_ref()).unwrap().error
    }
}

impl StanSub {
    /// The next message within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<MsgProto> {
        let m = tokio::time::timeout(within, self.msgs.next())
            .await
            .ok()??;
        MsgProto::decode(m.payload.as_ref()).ok()
    }

    /// `n` messages, each within [`WAIT`]; panics with what came when short.
    pub async fn take(&mut self, n: usize) -> Vec<MsgProto> {
        let mut got = Vec::new();
        while got.len() < n {
            match self.next(WAIT).await {
                Some(m) => got.push(m),
                None => panic!(
                    "got {} of {n} messages: {:?}",
                    got.len(),
                    got.iter().map(|m| m.sequence).collect::<Vec<_>>()
                ),
            }
        }
        got
    }
}

/// A subscription request with the given start.
pub fn sub_req(channel: &str, start: StartPosition) -> SubscriptionRequest {
    SubscriptionRequest {
        subject: channel.into(),
        start_position: start as i32,
        ..Default::default()
    }
}
