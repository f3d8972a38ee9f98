//! Reloading the `cluster {}` block (SIGHUP): routes added and removed,
//! pool size changed, and the settings that need a restart refused with
//! nats-server's wording while the old configuration stays in force.

mod common;

use std::time::{Duration, Instant};

use common::process::Server;

/// A server process with monitoring and a cluster block (`routes` inside).
struct Member {
    srv: Server,
    http: u16,
    cport: u16,
}

fn body(http: u16, cport: u16, cluster: &str) -> String {
    format!(
        "http: 127.0.0.1:{http}\ncluster {{\n  name: R\n  listen: 127.0.0.1:{cport}\n{cluster}\n}}\n"
    )
}

impl Member {
    fn start(cluster: &str) -> Member {
        let http = common::free_port();
        let cport = common::free_port();
        let srv = Server::start(&body(http, cport, cluster), &[]);
        Member { srv, http, cport }
    }

    fn reload(&self, cluster: &str) -> String {
        self.srv.write_conf(&body(self.http, self.cport, cluster));
        self.srv.reload()
    }

    fn route(&self) -> String {
        format!("  routes: [\"nats-route://127.0.0.1:{}\"]", self.cport)
    }

    /// Route connections, from `/routez`.
    fn num_routes(&self) -> usize {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.http)) else {
            return 0;
        };
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let _ = write!(s, "GET /routez HTTP/1.0\r\nHost: x\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let json = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|v| v["num_routes"].as_u64())
            .unwrap_or(0) as usize
    }

    fn wait_routes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.num_routes() != n {
            assert!(
                Instant::now() < deadline,
                "{} routes, want {n}:\n{}",
                self.num_routes(),
                self.srv.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.srv.port).into()
    }
}

async fn crosses(a: &Member, b: &Member) {
    common::cluster::crosses(a.addr(), b.addr(), "r.x").await;
}

#[tokio::test]
async fn routes_are_added_and_removed_by_reload() {
    let a = Member::start("");
    let b = Member::start("");
    assert_eq!(b.num_routes(), 0);
    let log = b.reload(&a.route());
    assert!(log.contains("Reloaded: cluster route added"), "{log}");
    // Default pool: 3 connections and the system account's.
    b.wait_routes(4);
    a.wait_routes(4);
    crosses(&a, &b).await;
    crosses(&b, &a).await;

    let log = b.reload("");
    assert!(log.contains("Reloaded: cluster route removed"), "{log}");
    b.wait_routes(0);
    a.wait_routes(0);
    // Not dialed again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(b.num_routes(), 0);
}

#[tokio::test]
async fn pool_size_reloads_and_the_listener_settings_need_a_restart() {
    let a = Member::start("");
    let b = Member::start(&a.route());
    b.wait_routes(4);
    a.reload("  pool_size: 1");
    let log = b.reload(&format!("{}\n  pool_size: 1", a.route()));
    assert!(log.contains("routes re-created"), "{log}");
    b.wait_routes(2);
    a.wait_routes(2);
    crosses(&a, &b).await;

    // The name is set up once: refused, the old configuration stays.
    b.srv.write_conf(&format!(
        "http: 127.0.0.1:{}\ncluster {{\n  name: OTHER\n  listen: 127.0.0.1:{}\n{}\n  pool_size: 1\n}}\n",
        b.http,
        b.cport,
        a.route()
    ));
    let log = b.srv.reload();
    assert!(
        log.contains("config reload not supported for cluster name"),
        "{log}"
    );
    assert_eq!(b.num_routes(), 2);
    crosses(&b, &a).await;
}
