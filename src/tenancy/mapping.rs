//! Subject mappings of an account (`mappings {}` in the config, `mappings`
//! in an account JWT): a message a client publishes on a mapped subject is
//! routed on the destination subject instead, or on one of several
//! destinations picked by weight.
//!
//! Mappings are found through a [`Sublist`] keyed by their source patterns,
//! so a publish costs one cached lookup whatever the number of mappings;
//! when sources overlap, the one added first wins, as in nats-server's
//! ordered scan.

use super::transform::Transform;
use crate::subject::Sublist;

/// One destination of a mapping as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    /// Percent of messages, 0..=100.
    pub weight: u8,
    /// Only used by servers in this cluster (rnats runs no cluster, so such
    /// destinations never apply).
    pub cluster: Option<String>,
}

impl MapDest {
    /// A destination taking every message.
    pub fn all(subject: &str) -> MapDest {
        MapDest {
            subject: subject.to_owned(),
            weight: 100,
            cluster: None,
        }
    }
}

/// A destination with the cumulative weight it is picked below.
#[derive(Debug)]
struct Weighted {
    transform: Transform,
    /// The destination as written (monitoring).
    dest: String,
    upto: u8,
}

/// One mapping: its source and the destinations messages are spread over.
#[derive(Debug)]
struct Mapping {
    source: String,
    dests: Vec<Weighted>,
    /// Destinations scoped to a cluster, by cluster name (monitoring only:
    /// rnats runs no cluster).
    cluster_dests: Vec<(String, Vec<Weighted>)>,
}

/// A mapping destination as nats-server's `/accountz` shows it: the weight
/// is cumulative, in the order destinations are picked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MapDestInfo {
    pub subject: String,
    pub weight: u8,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

/// A destination being set up: its transform, the subject as written and
/// its own weight.
type Pending = (Transform, String, u8);

/// Orders destinations by weight and makes the weights cumulative; adds the
/// source itself for the weight left over unless it is listed (then the
/// rest is dropped).
fn spread(
    mut list: Vec<(Transform, String, u8)>,
    source: &str,
    source_listed: bool,
) -> Vec<Weighted> {
    let sum: u16 = list.iter().map(|(_, _, w)| u16::from(*w)).sum();
    if sum != 100 && !source_listed {
        let rest = if list.is_empty() {
            100
        } else {
            100 - sum as u8
        };
        list.push((Transform::identity(source), tokenize(source), rest));
    }
    list.sort_by_key(|(_, _, w)| *w);
    let mut upto = 0u8;
    list.into_iter()
        .map(|(transform, dest, w)| {
            upto = upto.saturating_add(w);
            Weighted {
                transform,
                dest,
                upto,
            }
        })
        .collect()
}

/// `a.*.*` as nats-server writes the identity destination: `a.$1.$2`.
fn tokenize(source: &str) -> String {
    let mut n = 0;
    source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Where a publish goes after the account's mappings.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping matches: the subject stays.
    Unchanged,
    /// Routed on this subject instead.
    To(String),
    /// The mapping's weights leave this message nowhere to go (its source
    /// is listed among weights that total under 100): it is dropped.
    Dropped,
}

/// Why a mapping was refused, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("invalid subject")]
    InvalidSubject,
    #[error("duplicate entry for {0:?}")]
    Duplicate(String),
    #[error("individual weights need to be <= 100")]
    WeightTooHigh,
    #[error("total weight needs to be <= 100")]
    TotalTooHigh,
    /// The destination is not a valid transform of the source.
    #[error("{0}")]
    Destination(String),
}

/// An account's subject mappings.
pub struct Mappings {
    entries: Vec<Mapping>,
    /// Source pattern -> index into `entries`.
    index: Sublist<usize>,
}

impl std::fmt::Debug for Mappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|m| &m.source))
            .finish()
    }
}

impl Default for Mappings {
    fn default() -> Self {
        Mappings {
            entries: Vec::new(),
            index: Sublist::new(true),
        }
    }
}

impl Mappings {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds (or replaces) the mapping of `source`, checked as nats-server's
    /// `AddWeightedMappings` checks it.
    ///
    /// # Errors
    /// nats-server's texts: "invalid subject", `duplicate entry for "x"`,
    /// weight errors and the transform's "invalid mapping destination: …".
    pub fn add(&mut self, source: &str, dests: &[MapDest]) -> Result<(), MappingError> {
        if !crate::subject::is_valid_subject(source) {
            return Err(MappingError::InvalidSubject);
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut totals: Vec<(Option<&str>, u16)> = Vec::new();
        let mut plain = Vec::new();
        let mut scoped: Vec<(String, Vec<Pending>)> = Vec::new();
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight > 100 {
                return Err(MappingError::WeightTooHigh);
            }
            let cluster = d.cluster.as_deref();
            let total = match totals.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, t)) => t,
                None => {
                    totals.push((cluster, 0));
                    &mut totals.last_mut().expect("just pushed").1
                }
            };
            *total += u16::from(d.weight);
            if *total > 100 {
                return Err(MappingError::TotalTooHigh);
            }
            let transform = Transform::mapping(source, &d.subject)
                .map_err(|e| MappingError::Destination(e.0))?;
            let entry = (transform, d.subject.clone(), d.weight);
            match cluster {
                None => plain.push(entry),
                Some(c) => match scoped.iter_mut().find(|(n, _)| n == c) {
                    Some((_, list)) => list.push(entry),
                    None => scoped.push((c.to_owned(), vec![entry])),
                },
            }
        }
        let listed = seen.contains(&source);
        let mapping = Mapping {
            source: source.to_owned(),
            dests: spread(plain, source, listed),
            cluster_dests: scoped
                .into_iter()
                .map(|(c, list)| (c, spread(list, source, listed)))
                .collect(),
        };
        match self.entries.iter().position(|m| m.source == source) {
            Some(i) => self.entries[i] = mapping,
            None => {
                self.index
                    .insert(source, None, self.entries.len())
                    .map_err(|_| MappingError::InvalidSubject)?;
                self.entries.push(mapping);
            }
        }
        Ok(())
    }

    /// Where a message published on `subject` goes.
    pub fn select(&self, subject: &str) -> Mapped {
        let hits = self.index.match_subject(subject);
        let Some(&i) = hits.psubs.iter().min() else {
            return Mapped::Unchanged;
        };
        let dests = &self.entries[i].dests;
        let chosen = match dests.as_slice() {
            [only] if only.upto == 100 => Some(only),
            _ => {
                let w = (rand::random::<u32>() % 100) as u8;
                dests.iter().find(|d| w < d.upto)
            }
        };
        // A destination that renders empty (a split of separators only)
        // goes nowhere, as in nats-server.
        match chosen.and_then(|d| d.transform.apply(subject)) {
            Some(s) if !s.is_empty() => Mapped::To(s),
            _ => Mapped::Dropped,
        }
    }

    /// Each mapping's source and destinations as nats-server's `/accountz`
    /// shows them.
    pub fn describe(&self) -> std::collections::BTreeMap<String, Vec<MapDestInfo>> {
        let info = |d: &Weighted, cluster: &str| MapDestInfo {
            subject: d.dest.clone(),
            weight: d.upto,
            cluster: cluster.to_owned(),
        };
        self.entries
            .iter()
            .map(|m| {
                let mut dests: Vec<MapDestInfo> = m.dests.iter().map(|d| info(d, "")).collect();
                for (c, list) in &m.cluster_dests {
                    dests.extend(list.iter().map(|d| info(d, c)));
                }
                (m.source.clone(), dests)
            })
            .collect()
    }
}

/// The check of the `transform` fuzz target, also run on its seeds by
/// `cargo test`. The input is lines: a source pattern, destinations
/// (`<weight> <subject>`, or just a subject), and last a subject to publish.
///
/// For a valid literal subject, a transform that builds renames it exactly
/// when it matches the source, and so does the mapping table; nothing
/// panics on any input.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() < 2 || lines.len() > 18 {
        return;
    }
    let source = lines[0];
    let subject = lines[lines.len() - 1];
    let literal = crate::subject::is_valid_literal_subject(subject);
    let matches = literal && crate::subject::subject_matches(source, subject);
    let mut dests = Vec::new();
    for line in &lines[1..lines.len() - 1] {
        let (weight, dest) = match line.split_once(' ') {
            Some((w, d)) if w.parse::<u8>().is_ok() => (w.parse().unwrap_or(100), d),
            _ => (100, *line),
        };
        for t in [
            Transform::mapping(source, dest),
            Transform::new(source, dest),
        ]
        .into_iter()
        .flatten()
        {
            let renamed = t.apply(subject);
            if literal {
                assert_eq!(
                    renamed.is_some(),
                    matches,
                    "{source} -> {dest} on {subject}"
                );
            }
        }
        dests.push(MapDest {
            subject: dest.to_owned(),
            weight,
            cluster: None,
        });
    }
    let mut table = Mappings::default();
    if table.add(source, &dests).is_ok() && literal {
        let mapped = table.select(subject);
        assert_eq!(
            mapped != Mapped::Unchanged,
            matches,
            "{source} on {subject}"
        );
        let _ = table.describe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(subject: &str, weight: u8) -> MapDest {
        MapDest {
            subject: subject.into(),
            weight,
            cluster: None,
        }
    }

    #[test]
    fn plain_and_wildcard_mappings() {
        let mut m = Mappings::default();
        m.add("foo", &[MapDest::all("bar")]).unwrap();
        m.add("m.*.*", &[MapDest::all("mapped.$2.$1")]).unwrap();
        assert_eq!(m.select("foo"), Mapped::To("bar".into()));
        assert_eq!(m.select("m.a.b"), Mapped::To("mapped.b.a".into()));
        assert_eq!(m.select("other"), Mapped::Unchanged);
        assert_eq!(m.select("m.a"), Mapped::Unchanged);
    }

    #[test]
    fn the_first_added_of_overlapping_sources_wins() {
        let mut m = Mappings::default();
        m.add("a.*", &[MapDest::all("first.$1")]).unwrap();
        m.add("a.b", &[MapDest::all("second")]).unwrap();
        assert_eq!(m.select("a.b"), Mapped::To("first.b".into()));
        // Replacing keeps the position.
        m.add("a.*", &[MapDest::all("again.$1")]).unwrap();
        assert_eq!(m.select("a.b"), Mapped::To("again.b".into()));
    }

    #[test]
    fn weights_spread_messages_and_leave_the_rest_unmapped() {
        let mut m = Mappings::default();
        m.add("w", &[dest("w.a", 50), dest("w.b", 30)]).unwrap();
        let mut seen = std::collections::HashMap::new();
        for _ in 0..2000 {
            let Mapped::To(s) = m.select("w") else {
                panic!("every message goes somewhere");
            };
            *seen.entry(s).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        // The remaining 20% keep their subject.
        assert!(seen.contains_key("w"));
    }

    #[test]
    fn listing_the_source_under_100_percent_drops_the_rest() {
        let mut m = Mappings::default();
        m.add("d", &[dest("d", 0)]).unwrap();
        assert_eq!(m.select("d"), Mapped::Dropped);
        let mut m = Mappings::default();
        m.add("d", &[dest("d", 100)]).unwrap();
        assert_eq!(m.select("d"), Mapped::To("d".into()));
    }

    #[test]
    fn refusals_use_nats_server_texts() {
        let mut m = Mappings::default();
        assert_eq!(
            m.add("a", &[dest("b", 50), dest("b", 50)])
                .unwrap_err()
                .to_string(),
            "duplicate entry for \"b\""
        );
        assert_eq!(
            m.add("a", &[dest("b", 60), dest("c", 50)])
                .unwrap_err()
                .to_string(),
            "total weight needs to be <= 100"
        );
        assert_eq!(
            m.add("a..b", &[dest("b", 60)]).unwrap_err().to_string(),
            "invalid subject"
        );
        assert!(m.add("a.*", &[dest("b.$2", 100)]).is_err());
        assert!(m.is_empty());
    }

    #[test]
    fn described_as_nats_server_shows_them() {
        let mut m = Mappings::default();
        m.add("a.*", &[dest("b.$1", 30)]).unwrap();
        let d = m.describe();
        let want = vec![
            MapDestInfo {
                subject: "b.$1".into(),
                weight: 30,
                cluster: String::new(),
            },
            MapDestInfo {
                subject: "a.$1".into(),
                weight: 100,
                cluster: String::new(),
            },
        ];
        assert_eq!(d["a.*"], want);
    }

    #[test]
    fn cluster_scoped_destinations_do_not_apply_without_a_cluster() {
        let mut m = Mappings::default();
        let scoped = MapDest {
            subject: "east".into(),
            weight: 100,
            cluster: Some("east".into()),
        };
        m.add("c", &[scoped]).unwrap();
        assert_eq!(m.select("c"), Mapped::To("c".into()));
    }
}
