//! Publish and subscribe permissions: parsing from the config and the
//! checks the connection runs.
//!
//! Subscriptions are checked as **sets of subjects**: a subscription is
//! admitted only when everything it can match lies inside an allow entry
//! (`foo.*` does not admit `foo.>`, `*` does not admit `>`), which closes the
//! hole nats-server leaves by comparing a subscription's `>` token as if it
//! were a literal. A subscription that the reference refuses is refused here
//! too (deny entries are also matched against the subscription text as
//! nats-server does), and a message whose subject matches a deny entry is
//! never delivered, whatever the subscription's shape. Deny always wins.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, Kind, Map, Value};
use crate::subject::{self, subject_is_subset, subject_matches};

/// One allow or deny entry: a subject pattern, and for subscribe entries an
/// optional queue pattern (`"foo.> workers"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub subject: String,
    pub queue: Option<String>,
}

/// Allow and deny lists for one direction. `allow: None` allows everything
/// (subject to deny); `Some(empty)` allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    pub allow: Option<Vec<Entry>>,
    pub deny: Vec<Entry>,
}

/// `allow_responses`: after receiving a message with a reply subject, the
/// client may publish to it `max` times (negative: unlimited) within
/// `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    pub max: i64,
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// A user's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub response: Option<ResponsePermission>,
}

/// The outcome of a subscribe check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubCheck {
    Allowed,
    Denied,
}

impl Permissions {
    /// Whether publishing to `subject` is allowed by the publish lists
    /// (responses are checked separately by the connection).
    pub fn can_publish(&self, subject: &str) -> bool {
        let Some(p) = &self.publish else {
            return true;
        };
        let allowed = match &p.allow {
            None => true,
            Some(list) => list.iter().any(|e| subject_matches(&e.subject, subject)),
        };
        allowed && !p.deny.iter().any(|e| subject_matches(&e.subject, subject))
    }

    /// Whether a subscription to `subject` (with `queue`) is admitted.
    pub fn can_subscribe(&self, subject: &str, queue: Option<&str>) -> SubCheck {
        let Some(p) = &self.subscribe else {
            return SubCheck::Allowed;
        };
        let mut allowed = true;
        if let Some(allow) = &p.allow {
            // Entries that cover every subject the subscription can match.
            let covering = allow
                .iter()
                .filter(|e| subject_is_subset(subject, &e.subject));
            let (mut plain, mut queues) = (false, Vec::new());
            for e in covering {
                match &e.queue {
                    None => plain = true,
                    Some(q) => queues.push(q.as_str()),
                }
            }
            allowed = plain;
            if let Some(q) = queue {
                if !queues.is_empty() {
                    allowed = queues.iter().any(|pat| subject_matches(pat, q));
                }
            }
        }
        if allowed && !p.deny.is_empty() {
            // Refused when a deny entry covers the whole subscription, or
            // matches its text as nats-server compares it.
            let hit = |e: &&Entry| {
                subject_is_subset(subject, &e.subject) || subject_matches(&e.subject, subject)
            };
            let (mut plain, mut queues) = (false, Vec::new());
            for e in p.deny.iter().filter(hit) {
                match &e.queue {
                    None => plain = true,
                    Some(q) => queues.push(q.as_str()),
                }
            }
            allowed = !plain;
            if let Some(q) = queue {
                if !queues.is_empty() {
                    allowed = allowed && !queues.iter().any(|pat| subject_matches(pat, q));
                }
            }
        }
        if allowed {
            SubCheck::Allowed
        } else {
            SubCheck::Denied
        }
    }

    /// Whether a message on `subject` must be withheld from a subscription
    /// of this client in `queue` (`None`: a plain subscription) because a
    /// subscribe deny entry matches it. A queue entry (`"foo.bar q"`) keeps
    /// the subject from every subscription of the groups it names, however
    /// wide their subject, and from no other.
    pub fn denies_delivery(&self, subject: &str, queue: Option<&str>) -> bool {
        self.subscribe.as_ref().is_some_and(|p| {
            p.deny.iter().any(|e| {
                subject_matches(&e.subject, subject)
                    && match (&e.queue, queue) {
                        (None, _) => true,
                        (Some(pat), Some(q)) => subject_matches(pat, q),
                        (Some(_), None) => false,
                    }
            })
        })
    }

    /// Whether any deliveries need the deny filter at all.
    pub fn has_subscribe_deny(&self) -> bool {
        self.subscribe.as_ref().is_some_and(|p| !p.deny.is_empty())
    }
}

fn perr(pos: &crate::config::Pos, key: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::at(pos, key, msg)
}

/// Parses a `permissions { publish, subscribe, allow_responses }` block.
///
/// # Errors
/// Unknown keys, wrong types and invalid subjects, with position and
/// nats-server's texts.
pub fn parse(v: &Value, key: &str) -> Result<Arc<Permissions>, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(perr(
            &v.pos,
            key,
            format!(
                "Expected permissions to be a map/struct, got {}",
                v.kind.go_value()
            ),
        ));
    };
    parse_map(m, key).map(Arc::new)
}

fn parse_map(m: &Map, key: &str) -> Result<Permissions, ConfigError> {
    let mut p = Permissions::default();
    for (k, v) in m.iter() {
        let path = format!("{key}.{}", k.name);
        match k.name.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => p.publish = Some(parse_subject_perm(v, &path, false)?),
            "sub" | "subscribe" | "export" => {
                p.subscribe = Some(parse_subject_perm(v, &path, true)?)
            }
            "allow_responses" | "publish_allow_responses" => p.response = parse_response(v, &path)?,
            _ => {
                return Err(perr(
                    &k.pos,
                    &path,
                    format!("Unknown field \"{}\" parsing permissions", k.name),
                ))
            }
        }
    }
    // allow_responses without publish allows turns publishing into "deny
    // everything but responses", as nats-server does.
    if p.response.is_some() {
        let publish = p.publish.get_or_insert_with(SubjectPermission::default);
        if publish.allow.is_none() {
            publish.allow = Some(Vec::new());
        }
    }
    Ok(p)
}

fn parse_response(v: &Value, key: &str) -> Result<Option<ResponsePermission>, ConfigError> {
    let m = match &v.kind {
        Kind::Bool(false) => return Ok(None),
        Kind::Bool(true) => return Ok(Some(ResponsePermission::default())),
        Kind::Map(m) => m,
        _ => {
            return Err(perr(
                &v.pos,
                key,
                "error parsing response permissions, expected a boolean or a map",
            ))
        }
    };
    let mut r = ResponsePermission::default();
    for (k, v) in m.iter() {
        let path = format!("{key}.{}", k.name);
        match k.name.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => match v.kind {
                // 0 keeps the default; negative means unlimited.
                Kind::Integer(n) => r.max = if n == 0 { 1 } else { n },
                _ => {
                    return Err(ConfigError::wrong_type(
                        &v.pos,
                        &path,
                        "an integer",
                        &v.kind,
                    ))
                }
            },
            "expires" | "expiration" | "ttl" => {
                if let Some(d) = parse_expires(v, &path)? {
                    r.expires = d;
                }
            }
            _ => {
                return Err(perr(
                    &k.pos,
                    &path,
                    format!("Unknown field \"{}\" parsing permissions", k.name),
                ))
            }
        }
    }
    Ok(Some(r))
}

/// `allow_responses { expires }`: a Go duration string, as nats-server
/// requires. `None` for 0 (the default stays); a negative duration means
/// the grant never expires, as in nats-server.
fn parse_expires(v: &Value, key: &str) -> Result<Option<Duration>, ConfigError> {
    let text = match &v.kind {
        Kind::String(s) => s.as_str(),
        // An unquoted `5s` is a string to nats-server.
        Kind::Duration(d) => return Ok((!d.is_zero()).then_some(*d)),
        _ => {
            return Err(perr(
                &v.pos,
                key,
                "error parsing expires, not a duration string",
            ))
        }
    };
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let d = crate::config::parser::parse_go_duration(magnitude).map_err(|_| {
        // Go's text names the whole input, sign included.
        let e = crate::config::parser::parse_go_duration(text)
            .err()
            .map_or_else(
                || format!("time: invalid duration {text:?}"),
                |e| e.to_string(),
            );
        perr(&v.pos, key, format!("error parsing expires: {e}"))
    })?;
    Ok(match (d.is_zero(), negative) {
        (true, _) => None,
        (false, true) => Some(Duration::MAX),
        (false, false) => Some(d),
    })
}

/// A permission for one direction: a subject, an array (allow list), or a
/// map with `allow` and `deny`.
fn parse_subject_perm(
    v: &Value,
    key: &str,
    subscribe: bool,
) -> Result<SubjectPermission, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Ok(SubjectPermission {
            allow: Some(parse_entries(v, key, subscribe)?),
            deny: Vec::new(),
        });
    };
    let mut sp = SubjectPermission::default();
    for (k, v) in m.iter() {
        let path = format!("{key}.{}", k.name);
        match k.name.to_ascii_lowercase().as_str() {
            "allow" => sp.allow = Some(parse_entries(v, &path, subscribe)?),
            "deny" => sp.deny = parse_entries(v, &path, subscribe)?,
            _ => {
                return Err(perr(
                    &k.pos,
                    &path,
                    format!("Unknown field name \"{}\" parsing subject permissions, only 'allow' or 'deny' are permitted", k.name),
                ))
            }
        }
    }
    Ok(sp)
}

/// A subject or an array of subjects (nats-server's `parsePermSubjects`).
fn parse_entries(v: &Value, key: &str, subscribe: bool) -> Result<Vec<Entry>, ConfigError> {
    let items: Vec<&Value> = match &v.kind {
        Kind::Array(a) => a.iter().collect(),
        Kind::String(_) => vec![v],
        other => {
            return Err(perr(
                &v.pos,
                key,
                format!(
                    "Expected subject permissions to be a subject, or array of subjects, got {}",
                    other.go_type()
                ),
            ))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let Kind::String(s) = &item.kind else {
                return Err(perr(
                    &item.pos,
                    key,
                    "Subject in permissions array cannot be cast to string",
                ));
            };
            parse_entry(s, subscribe).map_err(|why| perr(&item.pos, key, why))
        })
        .collect()
}

/// `"subject"` or, for subscribe entries, `"subject queue"`, checked as
/// nats-server's `checkPermSubjectArray` does.
///
/// # Errors
/// nats-server's text for an invalid subject or queue.
pub fn parse_entry(s: &str, subscribe: bool) -> Result<Entry, String> {
    let invalid = |s: &str| format!("subject {s:?} is not a valid subject");
    if subject::is_valid_subject(s) {
        return Ok(Entry {
            subject: s.to_owned(),
            queue: None,
        });
    }
    if !subscribe {
        return Err(invalid(s));
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    let [subj, queue] = fields[..] else {
        return Err(invalid(s));
    };
    if !subject::is_valid_subject(subj) {
        return Err(invalid(subj));
    }
    if !subject::is_valid_subject(queue) {
        return Err(format!("queue {queue:?} is not a valid queue"));
    }
    Ok(Entry {
        subject: subj.to_owned(),
        queue: Some(queue.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(src: &str) -> Permissions {
        let map =
            crate::config::parse_str(&format!("p {src}"), std::path::Path::new("t.conf")).unwrap();
        (*parse(map.get("p").unwrap(), "p").unwrap()).clone()
    }

    #[test]
    fn publish_allow_deny() {
        let p = perms(r#"{ publish: { allow: ["pub.*", "data.>"], deny: ["pub.secret"] } }"#);
        assert!(p.can_publish("pub.a") && p.can_publish("data.x.y"));
        assert!(!p.can_publish("pub.secret") && !p.can_publish("pub.a.b"));
        assert!(!p.can_publish("data") && !p.can_publish("other"));
    }

    #[test]
    fn subscribe_as_sets() {
        let p = perms(
            r#"{ subscribe: { allow: ["sub.>", "pub.*", "foo.*", "*"], deny: ["sub.private", "sub.hidden.>"] } }"#,
        );
        let ok = |s: &str| p.can_subscribe(s, None) == SubCheck::Allowed;
        assert!(ok("sub.a") && ok("sub.>") && ok("pub.*") && ok("foo.x") && ok("x"));
        assert!(!ok("sub.private") && !ok("sub.hidden.x") && !ok("other.x"));
        // The reference admits these by comparing '>' as a literal token.
        assert!(!ok(">"), "'*' must not admit '>'");
        assert!(!ok("foo.>"), "'foo.*' must not admit 'foo.>'");
        assert!(
            p.denies_delivery("sub.private", None) && p.denies_delivery("sub.hidden.deep", None)
        );
        assert!(!p.denies_delivery("sub.ok", None));
    }

    #[test]
    fn queue_entries() {
        let only_q = perms(r#"{ subscribe: ["foo v1"] }"#);
        assert_eq!(only_q.can_subscribe("foo", None), SubCheck::Denied);
        assert_eq!(only_q.can_subscribe("foo", Some("v1")), SubCheck::Allowed);
        assert_eq!(only_q.can_subscribe("foo", Some("v2")), SubCheck::Denied);
        let both = perms(r#"{ subscribe: ["foo", "foo v1"] }"#);
        assert_eq!(both.can_subscribe("foo", None), SubCheck::Allowed);
        assert_eq!(both.can_subscribe("foo", Some("v1")), SubCheck::Allowed);
        assert_eq!(both.can_subscribe("foo", Some("v2")), SubCheck::Denied);
        let plain = perms(r#"{ subscribe: ["foo"] }"#);
        assert_eq!(plain.can_subscribe("foo", Some("any")), SubCheck::Allowed);
        let deny_q = perms(r#"{ subscribe: { deny: ["foo bad"] } }"#);
        assert_eq!(deny_q.can_subscribe("foo", Some("bad")), SubCheck::Denied);
        assert_eq!(deny_q.can_subscribe("foo", Some("good")), SubCheck::Allowed);
        assert_eq!(deny_q.can_subscribe("foo", None), SubCheck::Allowed);
        // Wider subscriptions in the group are admitted, but never get it.
        let deny_q = perms(r#"{ subscribe: { deny: ["foo.bar q"] } }"#);
        for sub in ["foo.*", "foo.>", ">", "*.bar"] {
            assert_eq!(deny_q.can_subscribe(sub, Some("q")), SubCheck::Allowed);
        }
        assert!(deny_q.denies_delivery("foo.bar", Some("q")));
        assert!(!deny_q.denies_delivery("foo.baz", Some("q")));
        assert!(!deny_q.denies_delivery("foo.bar", Some("other")));
        assert!(!deny_q.denies_delivery("foo.bar", None));
    }

    #[test]
    fn responses_turn_publish_into_deny_all() {
        let p = perms(r#"{ subscribe: "svc", allow_responses: { max: 2, expires: "400ms" } }"#);
        assert!(!p.can_publish("anything"));
        assert_eq!(
            p.response,
            Some(ResponsePermission {
                max: 2,
                expires: Duration::from_millis(400)
            })
        );
        let d = perms(r#"{ allow_responses: true }"#);
        assert_eq!(d.response, Some(ResponsePermission::default()));
    }

    #[test]
    fn entries_are_checked_with_nats_server_texts() {
        let e = |s: &str, sub: bool| parse_entry(s, sub).unwrap_err();
        assert_eq!(
            e("foo q", false),
            "subject \"foo q\" is not a valid subject"
        );
        assert_eq!(e("a b c", true), "subject \"a b c\" is not a valid subject");
        assert_eq!(e("a..b q", true), "subject \"a..b\" is not a valid subject");
        assert_eq!(e("a q..x", true), "queue \"q..x\" is not a valid queue");
        let q = parse_entry("foo.> workers", true).unwrap();
        assert_eq!(
            (q.subject.as_str(), q.queue.as_deref()),
            ("foo.>", Some("workers"))
        );
        assert_eq!(parse_entry("foo", false).unwrap().queue, None);
    }

    #[test]
    fn expires_is_a_go_duration_string() {
        let p = perms(r#"{ allow_responses: { expires: "-1s" } }"#);
        assert_eq!(
            p.response.unwrap().expires,
            Duration::MAX,
            "negative: never"
        );
        let p = perms(r#"{ allow_responses: { expires: "0s", max: 0 } }"#);
        assert_eq!(p.response, Some(ResponsePermission::default()));
        let map = crate::config::parse_str(
            "p { allow_responses: { expires: 5 } }",
            std::path::Path::new("t.conf"),
        )
        .unwrap();
        let e = parse(map.get("p").unwrap(), "p").unwrap_err();
        assert_eq!(e.message, "error parsing expires, not a duration string");
    }

    #[test]
    fn parse_errors_have_positions() {
        let map = crate::config::parse_str(
            "p { publish: { allow: [1] } }",
            std::path::Path::new("t.conf"),
        )
        .unwrap();
        assert!(parse(map.get("p").unwrap(), "p")
            .unwrap_err()
            .to_string()
            .starts_with("t.conf:1:"));
        let map =
            crate::config::parse_str("p { bogus: x }", std::path::Path::new("t.conf")).unwrap();
        assert!(parse(map.get("p").unwrap(), "p").is_err());
        let map =
            crate::config::parse_str("p { publish: \"a..b\" }", std::path::Path::new("t.conf"))
                .unwrap();
        assert!(parse(map.get("p").unwrap(), "p").is_err());
    }
}
