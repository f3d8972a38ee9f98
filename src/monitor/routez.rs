//! `/routez` and the `cluster` block of `/varz`, in nats-server's shape.

use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::format::rfc3339;
use crate::cluster::info::SubjectLists;
use crate::cluster::Cluster;
use crate::server::Server;

/// One entry per route connection; `subs`/`detail` add the peer's interest.
pub fn routes(server: &Server, subs: bool, detail: bool) -> (Map<String, Value>, Vec<Value>) {
    let mut top = Map::new();
    let Some(cluster) = server.cluster.get() else {
        return (top, Vec::new());
    };
    if let Some(p) = &cluster.config().permissions {
        if let Some(i) = &p.import {
            top.insert("import".into(), lists_json(i));
        }
        if let Some(e) = &p.export {
            top.insert("export".into(), lists_json(e));
        }
    }
    let now = SystemTime::now();
    let routes = cluster
        .routes()
        .iter()
        .map(|r| {
            let shared = &r.shared;
            let peer = r.peer.get();
            let mut o = Map::new();
            o.insert("rid".into(), json!(shared.id));
            o.insert(
                "remote_id".into(),
                json!(r.remote_id.get().cloned().unwrap_or_default()),
            );
            o.insert(
                "remote_name".into(),
                json!(r.remote_name.get().cloned().unwrap_or_default()),
            );
            o.insert(
                "did_solicit".into(),
                json!(r.did_solicit.load(Ordering::Relaxed)),
            );
            o.insert(
                "is_configured".into(),
                json!(r.explicit.load(Ordering::Relaxed)),
            );
            o.insert("ip".into(), json!(shared.addr.ip().to_string()));
            o.insert("port".into(), json!(shared.addr.port()));
            o.insert("start".into(), json!(rfc3339(shared.start)));
            let last = r.last_activity.load(Ordering::Relaxed);
            let last = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(last);
            o.insert("last_activity".into(), json!(rfc3339(last)));
            o.insert(
                "rtt".into(),
                json!(super::format::go_duration(shared.rtt())),
            );
            o.insert(
                "uptime".into(),
                json!(super::format::go_duration(
                    now.duration_since(shared.start).unwrap_or_default()
                )),
            );
            o.insert(
                "idle".into(),
                json!(super::format::go_duration(
                    now.duration_since(last).unwrap_or_default()
                )),
            );
            if let Some(p) = peer {
                if let Some(i) = &p.import {
                    o.insert("import".into(), lists_value(i));
                }
                if let Some(e) = &p.export {
                    o.insert("export".into(), lists_value(e));
                }
            }
            o.insert("pending_size".into(), json!(shared.out.pending()));
            o.insert(
                "in_msgs".into(),
                json!(shared.stats.in_msgs.load(Ordering::Relaxed)),
            );
            o.insert(
                "out_msgs".into(),
                json!(shared.stats.out_msgs.load(Ordering::Relaxed)),
            );
            o.insert(
                "in_bytes".into(),
                json!(shared.stats.in_bytes.load(Ordering::Relaxed)),
            );
            o.insert(
                "out_bytes".into(),
                json!(shared.stats.out_bytes.load(Ordering::Relaxed)),
            );
            o.insert("subscriptions".into(), json!(r.num_subs()));
            if subs || detail {
                let list = r.remote_subs();
                if detail {
                    let d: Vec<Value> = list
                        .iter()
                        .map(|(acc, subject, queue)| {
                            let mut s = Map::new();
                            s.insert("account".into(), json!(acc.to_string()));
                            s.insert("subject".into(), json!(subject.to_string()));
                            if let Some(q) = queue {
                                s.insert("qgroup".into(), json!(q.to_string()));
                            }
                            s.insert("sid".into(), json!(""));
                            s.insert("msgs".into(), json!(0));
                            s.insert("cid".into(), json!(shared.id));
                            Value::Object(s)
                        })
                        .collect();
                    o.insert("subscriptions_list_detail".into(), Value::Array(d));
                } else {
                    let l: Vec<Value> = list
                        .iter()
                        .map(|(_, subject, _)| json!(subject.to_string()))
                        .collect();
                    o.insert("subscriptions_list".into(), Value::Array(l));
                }
            }
            if let Some(acc) = r.pinned() {
                o.insert("account".into(), json!(acc.to_string()));
            }
            o.insert("compression".into(), json!("off"));
            Value::Object(o)
        })
        .collect();
    (top, routes)
}

/// The `cluster` block of `/varz` (empty without clustering).
pub fn varz_cluster(server: &Server) -> Value {
    let Some(c) = server.cluster.get() else {
        return json!({});
    };
    cluster_json(c)
}

fn cluster_json(c: &Cluster) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(c.name()));
    o.insert("addr".into(), json!(c.config().host));
    o.insert("cluster_port".into(), json!(c.addr.port()));
    o.insert(
        "auth_timeout".into(),
        json!(c
            .config()
            .auth
            .as_ref()
            .and_then(|a| a.timeout)
            .map_or(2.0, |t| t.as_secs_f64())),
    );
    let urls: Vec<String> = c
        .config()
        .routes
        .iter()
        .map(|r| format!("{}:{}", r.host, r.port))
        .collect();
    if !urls.is_empty() {
        o.insert("urls".into(), json!(urls));
    }
    o.insert("tls_timeout".into(), json!(2.0));
    o.insert("pool_size".into(), json!(c.config().pool_size));
    Value::Object(o)
}

fn lists_json(p: &crate::auth::permissions::SubjectPermission) -> Value {
    let mut o = Map::new();
    if let Some(a) = &p.allow {
        o.insert(
            "allow".into(),
            json!(a.iter().map(|e| e.subject.clone()).collect::<Vec<_>>()),
        );
    }
    if !p.deny.is_empty() {
        o.insert(
            "deny".into(),
            json!(p.deny.iter().map(|e| e.subject.clone()).collect::<Vec<_>>()),
        );
    }
    Value::Object(o)
}

fn lists_value(l: &SubjectLists) -> Value {
    serde_json::to_value(l).unwrap_or(Value::Null)
}
