//! The `mappings {}` (alias `maps`) blocks of the config: at the top level
//! for the global account, and inside an account definition. Read as
//! nats-server reads them, with its error texts and the file and line of
//! the offending entry:
//!
//! ```text
//! mappings {
//!   "orders.*": "orders.{{partition(3,1)}}.$1"
//!   canary: [ {destination: "svc.v2", weight: 10%}, {destination: "svc.v1", weight: 90%} ]
//! }
//! ```

use std::sync::Arc;

use super::mapping::{MapDest, Mappings};
use crate::config::{ConfigError, Kind, Map, Value};

/// Reads a mappings block; `key` names it in errors.
///
/// # Errors
/// The first malformed or refused mapping.
pub fn parse_mappings(v: &Value, key: &str) -> Result<Arc<Mappings>, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(ConfigError::at(
            &v.pos,
            key,
            "Expected mappings to be a map",
        ));
    };
    parse_map(m, key)
}

/// Reads the entries of a mappings block.
///
/// # Errors
/// The first malformed or refused mapping.
pub fn parse_map(m: &Map, key: &str) -> Result<Arc<Mappings>, ConfigError> {
    let mut out = Mappings::default();
    for (k, val) in m.iter() {
        let source = k.name.as_str();
        if !crate::subject::is_valid_subject(source) {
            return Err(ConfigError::at(
                &k.pos,
                key,
                format!("Subject {source:?} is not a valid subject"),
            ));
        }
        match &val.kind {
            Kind::String(dest) => out.add(source, &[MapDest::all(dest)]).map_err(|e| {
                ConfigError::at(
                    &val.pos,
                    key,
                    format!("Error adding mapping for {source:?} to {dest:?} : {e}"),
                )
            })?,
            Kind::Array(items) => {
                let dests = items
                    .iter()
                    .map(|item| parse_dest(item, key))
                    .collect::<Result<Vec<_>, _>>()?;
                add_weighted(&mut out, source, &dests, val, key)?;
            }
            // A map, or anything else, is read as one destination entry.
            _ => {
                let dest = parse_dest(val, key)?;
                add_weighted(&mut out, source, &[dest], val, key)?;
            }
        }
    }
    Ok(Arc::new(out))
}

fn add_weighted(
    out: &mut Mappings,
    source: &str,
    dests: &[MapDest],
    at: &Value,
    key: &str,
) -> Result<(), ConfigError> {
    out.add(source, dests).map_err(|e| {
        ConfigError::at(
            &at.pos,
            key,
            format!("Error adding mapping for {source:?} : {e}"),
        )
    })
}

/// One `{destination, weight, cluster}` entry.
fn parse_dest(v: &Value, key: &str) -> Result<MapDest, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(ConfigError::at(
            &v.pos,
            key,
            "Expected an entry for the mapping destination",
        ));
    };
    let mut dest = MapDest {
        subject: String::new(),
        weight: 0,
        cluster: None,
    };
    let mut weighted = false;
    for (k, val) in m.iter() {
        match k.name.to_ascii_lowercase().as_str() {
            "dest" | "destination" => dest.subject = want_string(val, key, &k.name)?.to_owned(),
            "cluster" => dest.cluster = Some(want_string(val, key, &k.name)?.to_owned()),
            "weight" => {
                dest.weight = parse_weight(val, key)?;
                weighted = true;
            }
            _ => {
                return Err(ConfigError::at(
                    &k.pos,
                    key,
                    format!("Unknown field {:?} for mapping destination", k.name),
                ))
            }
        }
    }
    if !weighted {
        return Err(ConfigError::at(
            &v.pos,
            key,
            format!("Missing weight for mapping destination {:?}", dest.subject),
        ));
    }
    Ok(dest)
}

/// `weight: 50`, `weight: "50"` or `weight: 50%`, from 0 to 100.
fn parse_weight(v: &Value, key: &str) -> Result<u8, ConfigError> {
    let n = match &v.kind {
        Kind::Integer(n) => *n,
        Kind::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or(s);
            digits.parse::<i64>().map_err(|_| {
                ConfigError::at(
                    &v.pos,
                    key,
                    format!("Invalid weight {digits:?} for mapping destination"),
                )
            })?
        }
        other => {
            return Err(ConfigError::at(
                &v.pos,
                key,
                format!("Unknown entry type for weight of {}", value_text(other)),
            ))
        }
    };
    u8::try_from(n).ok().filter(|w| *w <= 100).ok_or_else(|| {
        ConfigError::at(
            &v.pos,
            key,
            format!("Invalid weight {n} for mapping destination"),
        )
    })
}

fn want_string<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a str, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        _ => Err(ConfigError::at(
            &v.pos,
            key,
            format!("Expected {field:?} to be a string"),
        )),
    }
}

/// A non-numeric weight as nats-server prints it (`%v`).
fn value_text(k: &Kind) -> String {
    match k {
        Kind::Float(f) => f.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Duration(d) => format!("{d:?}"),
        Kind::DateTime(s) => s.clone(),
        Kind::Array(_) => "[...]".into(),
        Kind::Map(_) => "map[...]".into(),
        Kind::String(s) => s.clone(),
        Kind::Integer(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::mapping::Mapped;
    use std::path::Path;

    fn parse(src: &str) -> Result<Arc<Mappings>, String> {
        let parsed = crate::config::parser::parse_str_tracked(src, Path::new("m.conf")).unwrap();
        let (opts, _) =
            crate::config::Options::from_parsed(&parsed, Some(Path::new("m.conf"))).unwrap();
        let block = opts.mappings_block.expect("a mappings block");
        parse_map(&block, "mappings").map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_of_destination() {
        let m = parse(
            "mappings {\n  foo: bar\n  \"m.*.*\": \"mapped.$2.$1\"\n  one: {destination: uno, weight: 100}\n  w: [ {dest: w1, weight: 50%}, {destination: w2, weight: \"50\"} ]\n}\n",
        )
        .unwrap();
        assert_eq!(m.select("foo"), Mapped::To("bar".into()));
        assert_eq!(m.select("m.a.b"), Mapped::To("mapped.b.a".into()));
        assert_eq!(m.select("one"), Mapped::To("uno".into()));
        assert!(matches!(m.select("w"), Mapped::To(s) if s == "w1" || s == "w2"));
    }

    #[test]
    fn errors_name_line_and_use_nats_server_texts() {
        let e = parse("port: 1\nmappings {\n  \"a.*\": \"b.$2\"\n}\n").unwrap_err();
        assert!(e.starts_with("m.conf:3:"), "{e}");
        assert!(
            e.contains("Error adding mapping for \"a.*\" to \"b.$2\" : invalid mapping destination: wildcard index out of range in $2: [2]"),
            "{e}"
        );
        let e = parse("mappings {\n  a: [ {destination: b} ]\n}\n").unwrap_err();
        assert!(
            e.contains("Missing weight for mapping destination \"b\""),
            "{e}"
        );
        let e = parse("mappings {\n  a: [ {destination: b, weight: 101} ]\n}\n").unwrap_err();
        assert!(
            e.contains("Invalid weight 101 for mapping destination"),
            "{e}"
        );
        let e = parse(
            "mappings {\n  a: [ {destination: b, weight: 60}, {destination: c, weight: 60} ]\n}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("Error adding mapping for \"a\" : total weight needs to be <= 100"),
            "{e}"
        );
        let e = parse("mappings {\n  a: [ {to: b, weight: 1} ]\n}\n").unwrap_err();
        assert!(
            e.contains("Unknown field \"to\" for mapping destination"),
            "{e}"
        );
        let e = parse("mappings {\n  a: 7\n}\n").unwrap_err();
        assert!(
            e.contains("Expected an entry for the mapping destination"),
            "{e}"
        );
        let e = parse("mappings {\n  \"a..b\": c\n}\n").unwrap_err();
        assert!(e.contains("Subject \"a..b\" is not a valid subject"), "{e}");
    }
}
