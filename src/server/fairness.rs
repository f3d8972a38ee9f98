//! Fair scheduling between connections that share a runtime worker.
//!
//! tokio schedules tasks cooperatively. A flooding publisher's socket is
//! always readable, so its reader would only give way when tokio's I/O
//! budget runs out (128 reads: up to 8 MiB of messages and their fan-out),
//! and another tenant's request woken on the same worker would wait behind
//! all of it. Every reader (client and route) therefore yields after a
//! bounded amount of input; the yield also makes the worker look at the
//! network before it resumes the flood.

/// Bytes a reader processes between two yields: four full reads.
pub const YIELD_AFTER: usize = 256 * 1024;

/// Counts a reader's input since it last yielded.
#[derive(Debug, Default)]
pub struct ReadBudget {
    since_yield: usize,
}

impl ReadBudget {
    /// Records `n` bytes processed and yields once [`YIELD_AFTER`] have
    /// been since the last yield.
    pub async fn consumed(&mut self, n: usize) {
        if self.charge(n) {
            tokio::task::yield_now().await;
        }
    }

    /// Adds `n` bytes; true when it is time to yield (the count restarts).
    pub fn charge(&mut self, n: usize) -> bool {
        self.since_yield += n;
        if self.since_yield >= YIELD_AFTER {
            self.since_yield = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_once_per_budget() {
        let mut b = ReadBudget::default();
        let read = 64 * 1024;
        let yields: Vec<bool> = (0..8).map(|_| b.charge(read)).collect();
        assert_eq!(
            yields,
            [false, false, false, true, false, false, false, true]
        );
        assert!(!b.charge(1), "the count restarts after a yield");
        assert!(b.charge(YIELD_AFTER), "one huge read yields at once");
    }
}
