//! What the screen says: the header lines and the connection table, as
//! text cells shared by the live view and the `--once` snapshot.

use std::fmt::Write as _;

use crate::monitor::{ConnInfo, Snapshot};

/// Display options that do not change what is polled.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Raw counts instead of K/M/G.
    pub raw: bool,
    pub show_subs: bool,
}

/// Bytes in binary units as nats-top prints them (`512`, `1.5K`, `3.2M`).
pub fn psize(raw: bool, v: i64) -> String {
    let s = v as f64;
    const K: f64 = 1024.0;
    if raw || s < K {
        format!("{v}")
    } else if s < K * K {
        format!("{:.1}K", s / K)
    } else if s < K * K * K {
        format!("{:.1}M", s / (K * K))
    } else {
        format!("{:.1}G", s / (K * K * K))
    }
}

/// Counts in decimal units (`999`, `1.2K`, `3.4M`, `5.6B`).
pub fn nsize(raw: bool, v: i64) -> String {
    let s = v as f64;
    if raw || s < 1e3 {
        format!("{v}")
    } else if s < 1e6 {
        format!("{:.1}K", s / 1e3)
    } else if s < 1e9 {
        format!("{:.1}M", s / 1e6)
    } else if s < 1e12 {
        format!("{:.1}B", s / 1e9)
    } else {
        format!("{:.1}T", s / 1e12)
    }
}

/// The lines above the table.
pub fn header_lines(s: &Snapshot, style: Style, error: Option<&str>) -> Vec<String> {
    let v = &s.varz;
    let r = &s.rates;
    let mut out = Vec::new();
    let mut first = format!(
        "NATS server version {} (uptime: {})",
        if v.version.is_empty() {
            "?"
        } else {
            &v.version
        },
        if v.uptime.is_empty() { "?" } else { &v.uptime }
    );
    if let Some(e) = error {
        let _ = write!(first, "  Error: {e}");
    }
    out.push(first);
    if !v.server_name.is_empty() && v.server_name != v.server_id {
        out.push(format!("Server: {}", v.server_name));
    } else {
        out.push("Server:".into());
    }
    out.push(format!("  ID:   {}", v.server_id));
    out.push(format!(
        "  Load: CPU:  {:.1}%  Memory: {}  Slow Consumers: {}  Connections: {}  Subscriptions: {}",
        v.cpu,
        psize(false, v.mem),
        v.slow_consumers,
        v.connections,
        v.subscriptions
    ));
    out.push(format!(
        "  In:   Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
        nsize(style.raw, v.in_msgs),
        psize(style.raw, v.in_bytes),
        r.in_msgs,
        psize(style.raw, r.in_bytes as i64)
    ));
    out.push(format!(
        "  Out:  Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
        nsize(style.raw, v.out_msgs),
        psize(style.raw, v.out_bytes),
        r.out_msgs,
        psize(style.raw, r.out_bytes as i64)
    ));
    out.push(String::new());
    let sort = s.sort.map(|k| k.name()).unwrap_or("cid");
    out.push(format!(
        "Connections Polled: {} of {}  (sort: {sort})",
        s.connz.num_connections,
        s.connz.total.max(s.connz.num_connections)
    ));
    out
}

/// Column titles and the cells of each connection.
pub fn table(s: &Snapshot, style: Style) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let named = s.connz.connections.iter().any(|c| !c.name.is_empty());
    let mut head = vec!["HOST", "CID"];
    if named {
        head.push("NAME");
    }
    head.extend([
        "SUBS",
        "PENDING",
        "MSGS_TO",
        "MSGS_FROM",
        "BYTES_TO",
        "BYTES_FROM",
        "LANG",
        "VERSION",
        "UPTIME",
        "IDLE",
        "RTT",
    ]);
    if style.show_subs {
        head.push("SUBSCRIPTIONS");
    }
    let rows = s
        .connz
        .connections
        .iter()
        .map(|c| row(c, named, style))
        .collect();
    (head, rows)
}

fn row(c: &ConnInfo, named: bool, style: Style) -> Vec<String> {
    let host = if c.ip.contains(':') {
        format!("[{}]:{}", c.ip, c.port)
    } else {
        format!("{}:{}", c.ip, c.port)
    };
    let mut r = vec![host, c.cid.to_string()];
    if named {
        r.push(c.name.clone());
    }
    r.extend([
        c.subscriptions.to_string(),
        psize(style.raw, c.pending_bytes),
        nsize(style.raw, c.out_msgs),
        nsize(style.raw, c.in_msgs),
        psize(style.raw, c.out_bytes),
        psize(style.raw, c.in_bytes),
        c.lang.clone(),
        c.version.clone(),
        c.uptime.clone(),
        c.idle.clone(),
        c.rtt.clone(),
    ]);
    if style.show_subs {
        r.push(c.subscriptions_list.join(", "));
    }
    r
}

/// Width of each column: its widest cell or title.
pub fn widths(head: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    head.iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain(std::iter::once(h.len()))
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// The whole screen as plain text (for `--once` and `-o`).
pub fn render_text(s: &Snapshot, style: Style) -> String {
    let mut out = String::new();
    for l in header_lines(s, style, None) {
        out.push_str(&l);
        out.push('\n');
    }
    let (head, rows) = table(s, style);
    let w = widths(&head, &rows);
    let line = |cells: Vec<String>| {
        let mut l = String::from(" ");
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.into_iter().enumerate() {
            l.push(' ');
            if i == last {
                l.push_str(&c);
            } else {
                let _ = write!(l, "{c:<width$} ", width = w[i]);
            }
        }
        l.trim_end().to_string()
    };
    out.push_str(&line(head.iter().map(|h| h.to_string()).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{ConnInfo, Connz, Varz};

    #[test]
    fn sizes() {
        assert_eq!(psize(false, 512), "512");
        assert_eq!(psize(false, 1536), "1.5K");
        assert_eq!(psize(true, 1536), "1536");
        assert_eq!(nsize(false, 1_200_000), "1.2M");
    }

    #[test]
    fn text_snapshot() {
        let s = Snapshot {
            varz: Varz {
                server_id: "NSRV".into(),
                version: "2.15.1".into(),
                uptime: "5s".into(),
                ..Default::default()
            },
            connz: Connz {
                num_connections: 1,
                total: 1,
                connections: vec![ConnInfo {
                    cid: 7,
                    ip: "127.0.0.1".into(),
                    port: 4000,
                    name: "svc".into(),
                    subscriptions: 1,
                    subscriptions_list: vec!["foo.>".into()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let t = render_text(
            &s,
            Style {
                raw: false,
                show_subs: true,
            },
        );
        assert!(
            t.starts_with("NATS server version 2.15.1 (uptime: 5s)"),
            "{t}"
        );
        assert!(t.contains("Connections Polled: 1 of 1"));
        assert!(t.contains("HOST"), "{t}");
        let row = t.lines().last().unwrap();
        assert!(
            row.contains("127.0.0.1:4000") && row.contains("svc") && row.ends_with("foo.>"),
            "{row}"
        );
    }
}
