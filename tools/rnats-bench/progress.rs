//! Live progress: one bar per side, fed from counters the clients bump.
//!
//! Clients add to a shared atomic counter in batches; a ticker copies the
//! counters into the bars ten times a second, so the bars cost the hot
//! loops nothing but an occasional atomic add.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::commas;

pub type Counter = Arc<AtomicU64>;

pub struct Progress {
    multi: MultiProgress,
    bars: Vec<(ProgressBar, Counter)>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Bars draw on stderr, and only when it is a terminal (indicatif hides
    /// them otherwise) and `enabled`.
    pub fn new(enabled: bool) -> Progress {
        let target = if enabled {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            bars: Vec::new(),
            ticker: None,
        }
    }

    /// A bar for `label` expecting `total` messages; returns its counter.
    pub fn add(&mut self, label: &str, total: u64) -> Counter {
        let style = ProgressStyle::with_template(
            "{prefix:>4} {bar:40.cyan/blue} {pos:>10}/{len:<10} {msg:>16} {elapsed_precise}",
        )
        .expect("valid progress template")
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        let counter = Counter::default();
        self.bars.push((bar, counter.clone()));
        counter
    }

    /// Starts copying the counters into the bars.
    pub fn start(&mut self) {
        let bars = self.bars.clone();
        self.ticker = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let start = Instant::now();
            loop {
                tick.tick().await;
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                for (bar, c) in &bars {
                    let n = c.load(Ordering::Relaxed);
                    if bar.length().is_some_and(|l| bar.position() >= l) {
                        continue; // done: keep the rate it finished with
                    }
                    bar.set_position(n);
                    bar.set_message(format!("{} msgs/s", commas(n as f64 / secs)));
                }
            }
        }));
    }

    /// Final positions, then the bars stay on screen above the summary.
    pub fn finish(mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        for (bar, c) in &self.bars {
            bar.set_position(c.load(Ordering::Relaxed));
            bar.abandon();
        }
        if !self.bars.is_empty() && !self.multi.is_hidden() {
            eprintln!();
        }
    }
}

/// Counts locally and publishes to the shared counter every `BATCH` steps.
pub struct Tally {
    counter: Counter,
    pending: u64,
}

const BATCH: u64 = 256;

impl Tally {
    pub fn new(counter: Counter) -> Tally {
        Tally {
            counter,
            pending: 0,
        }
    }

    #[inline]
    pub fn one(&mut self) {
        self.pending += 1;
        if self.pending >= BATCH {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if self.pending > 0 {
            self.counter.fetch_add(self.pending, Ordering::Relaxed);
            self.pending = 0;
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}
