//! Query-string parameters, decoded and validated as nats-server's monitor
//! handlers do (Go's `strconv` rules and error wording), so a bad value gets
//! the same HTTP 400 text.

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

/// A bad parameter: the text of the HTTP 400 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl Query {
    /// Parses `a=1&b=x%20y` (form encoding: `+` is a space).
    pub fn parse(q: Option<&str>) -> Query {
        let Some(q) = q else {
            return Query::default();
        };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `key`, or "" (Go's `URL.Query().Get`).
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A boolean parameter (`1`, `t`, `true`, `0`, `f`, `false`, ...); absent
    /// means false.
    pub fn bool(&self, key: &str) -> Result<bool, BadRequest> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(false);
        }
        parse_bool(v).ok_or_else(|| {
            BadRequest(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(v)
            ))
        })
    }

    /// An integer parameter; absent means 0.
    pub fn int(&self, key: &str) -> Result<i64, BadRequest> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        v.parse::<i64>().map_err(|e| {
            BadRequest(format!(
                "Error decoding int for '{key}': strconv.Atoi: parsing {}: {}",
                go_quote(v),
                num_error(&e)
            ))
        })
    }

    /// An unsigned parameter; absent means 0.
    pub fn uint(&self, key: &str) -> Result<u64, BadRequest> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        let parsed = if v.starts_with('+') {
            None
        } else {
            Some(v.parse::<u64>())
        };
        match parsed {
            Some(Ok(n)) => Ok(n),
            Some(Err(e)) => Err(BadRequest(format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {}",
                go_quote(v),
                num_error(&e)
            ))),
            None => Err(BadRequest(format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: invalid syntax",
                go_quote(v)
            ))),
        }
    }

    /// `subs`: `detail` asks for subscription details, otherwise a boolean
    /// asks for the subject list. Returns (list, detail).
    pub fn subs(&self) -> Result<(bool, bool), BadRequest> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok((false, true));
        }
        Ok((self.bool("subs")?, false))
    }
}

fn num_error(e: &std::num::ParseIntError) -> &'static str {
    match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "value out of range"
        }
        _ => "invalid syntax",
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A value quoted as Go's `%q` would for the printable text of a query.
fn go_quote(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("\"{v}\""))
}

/// Percent-decoding with `+` as a space; invalid escapes are kept as is.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_takes_first_value() {
        let q = Query::parse(Some("acc=%24G&a=1&a=2&sp=a+b&bad=%zz&flag"));
        assert_eq!(q.get("acc"), "$G");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.get("sp"), "a b");
        assert_eq!(q.get("bad"), "%zz");
        assert_eq!(q.get("flag"), "");
        assert_eq!(q.get("missing"), "");
        assert_eq!(Query::parse(Some("x=%4")).get("x"), "%4");
    }

    #[test]
    fn go_parse_rules_and_errors() {
        let q = Query::parse(Some("a=T&b=0&c=yes&n=-3&m=x&u=+1&big=99999999999999999999"));
        assert_eq!(q.bool("a"), Ok(true));
        assert_eq!(q.bool("b"), Ok(false));
        assert_eq!(q.bool("none"), Ok(false));
        assert_eq!(
            q.bool("c").unwrap_err().0,
            "Error decoding boolean for 'c': strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(q.int("n"), Ok(-3));
        assert_eq!(
            q.int("m").unwrap_err().0,
            "Error decoding int for 'm': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert!(q.uint("u").is_err());
        assert!(q.int("big").unwrap_err().0.ends_with("value out of range"));
    }

    #[test]
    fn subs_detail_or_bool() {
        assert_eq!(Query::parse(Some("subs=detail")).subs(), Ok((false, true)));
        assert_eq!(Query::parse(Some("subs=1")).subs(), Ok((true, false)));
        assert_eq!(Query::parse(None).subs(), Ok((false, false)));
        assert!(Query::parse(Some("subs=x")).subs().is_err());
    }
}
