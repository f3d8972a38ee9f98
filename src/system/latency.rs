//! Service latency reports: a [`LatencySample`] made by the fan-out becomes
//! nats-server's `io.nats.server.metric.v1.service_latency` message,
//! published in the exporting account on the export's results subject.

use serde_json::{json, Value};

use super::events::publish;
use crate::monitor::format::rfc3339;
use crate::server::client_info::ClientInfo;
use crate::server::Server;
use crate::tenancy::imports::random_token;
use crate::tenancy::latency::LatencySample;

/// nats-server's type of a latency report.
pub const SERVICE_LATENCY_TYPE: &str = "io.nats.server.metric.v1.service_latency";

/// Publishes one measurement.
pub fn report(server: &Server, s: &LatencySample) {
    let body = document(server, s).to_string();
    publish(server, &s.exporter, &s.subject, None, body.as_bytes());
}

/// The report as nats-server writes it: the requestor's details only when
/// its import shares them (`share`), the responder's always.
pub fn document(server: &Server, s: &LatencySample) -> Value {
    let mut v = json!({
        "type": SERVICE_LATENCY_TYPE,
        "id": random_token(22),
        "timestamp": rfc3339(std::time::SystemTime::now()),
        "status": s.status.code(),
    });
    let o = v.as_object_mut().expect("object");
    if let Some(d) = s.status.description() {
        o.insert("description".into(), json!(d));
    }
    if let Some(c) = &s.requestor {
        let ci = if s.share {
            ClientInfo::detailed(c, &server.name)
        } else {
            ClientInfo::brief(c)
        };
        o.insert("requestor".into(), json!(ci));
    }
    if let Some(c) = &s.responder {
        o.insert(
            "responder".into(),
            json!(ClientInfo::detailed(c, &server.name)),
        );
    }
    if !s.header.is_empty() {
        let header: serde_json::Map<String, Value> = s
            .header
            .iter()
            .map(|(k, vals)| (k.clone(), json!(vals)))
            .collect();
        o.insert("header".into(), Value::Object(header));
    }
    o.insert("start".into(), json!(rfc3339(s.start)));
    o.insert("service".into(), json!(s.service.as_nanos() as u64));
    o.insert("system".into(), json!(s.system.as_nanos() as u64));
    o.insert("total".into(), json!(s.total.as_nanos() as u64));
    v
}
