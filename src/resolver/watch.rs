//! Watching a resolver directory with `notify`, so a JWT written there by
//! another process (an operator's tool, a sync job) takes effect without a
//! restart.
//!
//! notify's callback only forwards paths to a thread of ours, which waits
//! until the directory has been quiet for [`DEBOUNCE`] (writers often make
//! several events per file) and then hands each changed path to
//! [`DirInner::file_changed`], which reads the whole file and checks it like
//! a store. Accepted changes go on the update stream. The thread ends when
//! the [`Watcher`] is dropped (notify drops its callback, closing the
//! channel).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::dir::DirInner;
use super::AccountUpdate;

/// How long the directory must be quiet before changed files are read.
pub(super) const DEBOUNCE: Duration = Duration::from_millis(150);

/// A running watch; dropping it stops it.
pub(super) struct Watcher {
    _inner: notify::RecommendedWatcher,
}

impl Watcher {
    pub(super) fn start(
        dir: Arc<DirInner>,
        updates: mpsc::UnboundedSender<AccountUpdate>,
    ) -> notify::Result<Watcher> {
        let (tx, rx) = std_mpsc::channel::<PathBuf>();
        let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                // Access: nothing changed, except a close after writing.
                // Remove: a deleted file is not a claim update; the JWT in
                // force stays.
                let wanted = match ev.kind {
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                    EventKind::Access(_) | EventKind::Remove(_) => false,
                    _ => true,
                };
                if !wanted {
                    return;
                }
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
        })?;
        w.watch(dir.dir(), RecursiveMode::NonRecursive)?;
        std::thread::Builder::new()
            .name("rnats-jwt-watch".into())
            .spawn(move || run(dir, rx, updates))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(Watcher { _inner: w })
    }
}

fn run(
    dir: Arc<DirInner>,
    rx: std_mpsc::Receiver<PathBuf>,
    updates: mpsc::UnboundedSender<AccountUpdate>,
) {
    // Ends when notify drops the sender (the Watcher was dropped).
    while let Ok(first) = rx.recv() {
        let mut pending = BTreeSet::from([first]);
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(p) => {
                    pending.insert(p);
                }
                Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        for p in pending {
            if let Some(u) = dir.file_changed(&p) {
                // Nobody listening is fine: the store is updated anyway.
                let _ = updates.send(u);
            }
        }
    }
}
