//! Structured input of the `subject` fuzz target, decoded with `arbitrary`.
//! Shared by the fuzz target and the seed replay test of the main crate
//! (`tests/fuzz_corpus.rs`), so a seed file means the same ops in both.

use arbitrary::{Arbitrary, Unstructured};
use rnats::subject::fuzz_check::{check_subjects, check_sublist, Op};

/// A subject token: mostly from a small alphabet so that subscriptions and
/// publishes overlap, sometimes anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum Tok {
    A,
    B,
    C,
    Star,
    Gt,
    Empty,
    Raw(String),
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::A => "a",
            Tok::B => "b",
            Tok::C => "c",
            Tok::Star => "*",
            Tok::Gt => ">",
            Tok::Empty => "",
            Tok::Raw(s) => s,
        }
    }
}

/// A subject: its tokens joined with `.`.
#[derive(Arbitrary, Debug, Clone)]
pub struct Subj(pub Vec<Tok>);

impl Subj {
    pub fn text(&self) -> String {
        self.0.iter().map(Tok::text).collect::<Vec<_>>().join(".")
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Queue {
    None,
    Q1,
    Q2,
    Raw(String),
}

impl Queue {
    fn text(&self) -> Option<String> {
        match self {
            Queue::None => None,
            Queue::Q1 => Some("q1".into()),
            Queue::Q2 => Some("q2".into()),
            Queue::Raw(s) => Some(s.clone()),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzOp {
    Insert(Subj, Queue, u8),
    Remove(Subj, Queue, u8),
    RemoveLive(u8),
    Match(Subj),
    ClearCache,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub cache: bool,
    /// Pairs for the subject function checks.
    pub pairs: Vec<(Subj, Subj)>,
    pub ops: Vec<FuzzOp>,
}

impl Input {
    pub fn ops(&self) -> Vec<Op> {
        self.ops
            .iter()
            .map(|op| match op {
                FuzzOp::Insert(s, q, id) => Op::Insert {
                    subject: s.text(),
                    queue: q.text(),
                    id: *id,
                },
                FuzzOp::Remove(s, q, id) => Op::Remove {
                    subject: s.text(),
                    queue: q.text(),
                    id: *id,
                },
                FuzzOp::RemoveLive(n) => Op::RemoveLive(usize::from(*n)),
                FuzzOp::Match(s) => Op::Match(s.text()),
                FuzzOp::ClearCache => Op::ClearCache,
            })
            .collect()
    }
}

/// Decodes `data` and runs every check on it.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    for (a, b) in &input.pairs {
        check_subjects(&a.text(), &b.text());
    }
    check_sublist(&input.ops(), input.cache);
}
