//! The JSON body of a `$SYS.REQ` monitoring request, as nats-server reads
//! it: filters saying which servers should answer (`server_name`, `host`,
//! `cluster`, `tags`, `domain`, `exact_match`) and the options of the
//! endpoint asked for (`sort`, `limit`, `subscriptions`, …), turned into the
//! query string the HTTP endpoint takes, so both paths share one parser.

use serde_json::{Map, Value};

use crate::server::Server;

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer with the endpoint queried with this query string.
    Answer(String),
    /// The filters name other servers: stay silent, as nats-server does.
    NotForUs,
    /// The body is not valid JSON options (the error's text).
    Invalid(String),
}

/// Reads `body` for the monitoring endpoint `kind` (`CONNZ`, `SUBSZ`, …).
/// `account`, when given, is the account the request is scoped to: it
/// replaces whatever account the body names, so a tenant asking through its
/// import never sees another account.
pub fn decide(server: &Server, kind: &str, body: &[u8], account: Option<&str>) -> Decision {
    let opts = server.opts();
    let me = Me {
        name: &server.name,
        host: &opts.host,
        tags: &opts.server_tags,
    };
    decide_for(&me, kind, body, account)
}

/// What the server filters compare with.
pub struct Me<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub tags: &'a [String],
}

/// [`decide`] for a server described by `me`.
pub fn decide_for(me: &Me<'_>, kind: &str, body: &[u8], account: Option<&str>) -> Decision {
    let empty = Map::new();
    let parsed;
    let opts = if body.iter().all(u8::is_ascii_whitespace) {
        &empty
    } else {
        parsed = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Decision::Invalid("request options must be a JSON object".into()),
            Err(e) => return Decision::Invalid(e.to_string()),
        };
        &parsed
    };
    if !for_this_server(me, opts) {
        return Decision::NotForUs;
    }
    let mut q = Query::default();
    match kind {
        "CONNZ" => {
            q.text("sort", opts.get("sort"));
            q.flag("auth", opts.get("auth"));
            let detail = opts.get("subscriptions_detail").and_then(Value::as_bool) == Some(true);
            let subs = opts.get("subscriptions").and_then(Value::as_bool) == Some(true);
            if detail {
                q.push("subs", "detail");
            } else if subs {
                q.push("subs", "1");
            }
            q.number("offset", opts.get("offset"));
            q.number("limit", opts.get("limit"));
            q.number("cid", opts.get("cid"));
            match opts.get("state").and_then(Value::as_i64) {
                Some(1) => q.push("state", "closed"),
                Some(2) => q.push("state", "any"),
                _ => {}
            }
            q.text("user", opts.get("user"));
            match account {
                Some(acc) => q.push("acc", acc),
                None => q.text("acc", opts.get("acc")),
            }
        }
        "SUBSZ" => {
            q.number("offset", opts.get("offset"));
            q.number("limit", opts.get("limit"));
            q.flag("subs", opts.get("subscriptions"));
            q.text("test", opts.get("test"));
            match account {
                Some(acc) => {
                    q.push("acc", acc);
                    q.push("subs", "1");
                }
                None => q.text("acc", opts.get("account")),
            }
        }
        _ => {
            if let Some(acc) = account {
                q.push("acc", acc);
            }
        }
    }
    Decision::Answer(q.0)
}

/// nats-server's `filterRequest`: names and hosts match as substrings
/// unless `exact_match`; every tag must be one of the server's; rnats has
/// no cluster and no JetStream domain, so naming one filters it out.
fn for_this_server(me: &Me<'_>, opts: &Map<String, Value>) -> bool {
    let get = |k: &str| opts.get(k).and_then(Value::as_str).unwrap_or("");
    let exact = opts.get("exact_match").and_then(Value::as_bool) == Some(true);
    let matches = |want: &str, have: &str| {
        want.is_empty()
            || if exact {
                want == have
            } else {
                have.contains(want)
            }
    };
    if !matches(get("server_name"), me.name) || !matches(get("host"), me.host) {
        return false;
    }
    if !get("cluster").is_empty() || !get("domain").is_empty() {
        return false;
    }
    opts.get("tags")
        .and_then(Value::as_array)
        .is_none_or(|want| {
            want.iter()
                .all(|t| t.as_str().is_some_and(|t| me.tags.iter().any(|h| h == t)))
        })
}

/// A query string being built, percent-encoded.
#[derive(Default)]
struct Query(String);

impl Query {
    fn push(&mut self, key: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(key);
        self.0.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*' | b'>') {
                self.0.push(b as char);
            } else {
                self.0.push_str(&format!("%{b:02X}"));
            }
        }
    }

    fn text(&mut self, key: &str, v: Option<&Value>) {
        if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
            self.push(key, s);
        }
    }

    fn flag(&mut self, key: &str, v: Option<&Value>) {
        if v.and_then(Value::as_bool) == Some(true) {
            self.push(key, "1");
        }
    }

    fn number(&mut self, key: &str, v: Option<&Value>) {
        if let Some(n) = v.and_then(Value::as_i64).filter(|n| *n != 0) {
            self.push(key, &n.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Me<'static> {
        static TAGS: [String; 0] = [];
        Me {
            name: "srv-east-1",
            host: "0.0.0.0",
            tags: &TAGS,
        }
    }

    fn answer(kind: &str, body: &str, account: Option<&str>) -> Decision {
        decide_for(&me(), kind, body.as_bytes(), account)
    }

    #[test]
    fn options_become_the_endpoint_query() {
        assert_eq!(answer("CONNZ", "", None), Decision::Answer(String::new()));
        assert_eq!(
            answer(
                "CONNZ",
                r#"{"sort":"msgs_to","subscriptions":true,"limit":5,"state":1,"acc":"B"}"#,
                None
            ),
            Decision::Answer("sort=msgs_to&subs=1&limit=5&state=closed&acc=B".into())
        );
        assert_eq!(
            answer("SUBSZ", r#"{"subscriptions":true,"account":"$G"}"#, None),
            Decision::Answer("subs=1&acc=%24G".into())
        );
    }

    #[test]
    fn a_scoped_request_cannot_name_another_account() {
        assert_eq!(
            answer("CONNZ", r#"{"acc":"B","user":"x y"}"#, Some("A")),
            Decision::Answer("user=x%20y&acc=A".into())
        );
        assert_eq!(
            answer("SUBSZ", r#"{"account":"B"}"#, Some("A")),
            Decision::Answer("acc=A&subs=1".into())
        );
        assert_eq!(
            answer("INFO", "{}", Some("A")),
            Decision::Answer("acc=A".into())
        );
    }

    #[test]
    fn server_filters_as_nats_server() {
        assert!(matches!(
            answer("VARZ", r#"{"server_name":"east"}"#, None),
            Decision::Answer(_)
        ));
        assert_eq!(
            answer("VARZ", r#"{"server_name":"east","exact_match":true}"#, None),
            Decision::NotForUs
        );
        assert_eq!(
            answer("VARZ", r#"{"server_name":"west"}"#, None),
            Decision::NotForUs
        );
        assert_eq!(
            answer("VARZ", r#"{"cluster":"c"}"#, None),
            Decision::NotForUs
        );
        assert_eq!(
            answer("VARZ", r#"{"tags":["x"]}"#, None),
            Decision::NotForUs
        );
        assert!(matches!(answer("VARZ", "[1]", None), Decision::Invalid(_)));
        assert!(matches!(answer("VARZ", "{", None), Decision::Invalid(_)));
    }
}
