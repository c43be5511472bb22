//! The threads that write staged packs' full blocks (see [`super::DirectWriter`]), so that the
//! worker appending a blob only copies it into a block and never waits for the device.
//!
//! Before, the worker that filled a block wrote it itself, while it held the lock on the pack
//! being filled: on a first backup of `/usr/lib` the workers spent about a tenth of their time in
//! direct writes and another tenth waiting for that lock. Now full blocks queue for [`WRITERS`]
//! kept threads ("hoard-pack-io") that write each at its offset (`pwrite`), so the order of the
//! writes does not matter; at most [`QUEUED`] wait, so a device slower than the workers still
//! holds them back, and memory stays a few blocks. [`Tracker`] counts one file's blocks still
//! held, queued or being written, and keeps the first error, which the next append, the close
//! or the wait for the whole file reports.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, RecvError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use super::{Bounce, EINVAL, set_direct};

/// Blocks that may wait for the threads besides the ones they are writing. The device here (a
/// loop device with direct I/O on a shared disk) pauses now and then; 4 waiting blocks rather
/// than 2 left the workers waiting less (a `/usr/lib` first create, alternating: faster in 4 of
/// 4 pairs, 14.7 -> 14.1 s medians, the machine's idle and I/O-wait time 354 -> 283 ticks); 8
/// gained nothing more.
pub(super) const QUEUED: usize = 4;
/// Threads writing blocks. With one, each direct write waited for the device and the device
/// waited for the next write; with two, one is sent while the other completes (a `/usr/lib`
/// first create onto a loop device with direct I/O, alternating: 14.53 -> 14.10 s, medians of 6,
/// faster in each of the 6 pairs).
pub(super) const WRITERS: usize = 2;

/// One file's queued blocks and what their writes came to.
struct Progress {
    /// Blocks held by a writer ([`super::Ready`]), queued, or being written.
    pending: usize,
    /// The file was given up (its writer or [`super::Closing`] dropped): its blocks that are
    /// still held or queued are not written.
    abandoned: bool,
    /// The first failed write's error, until it is reported.
    error: Option<std::io::Error>,
    /// Whether writes still go with `O_DIRECT` (turned off for good after a refused one).
    direct: bool,
}

/// What a [`super::DirectWriter`] shares with the writes it queued.
pub(super) struct Tracker {
    progress: Mutex<Progress>,
    done: Condvar,
}

impl Tracker {
    /// A file with no block queued; `direct`: whether its descriptor has `O_DIRECT` on.
    pub(super) fn new(direct: bool) -> Arc<Self> {
        Arc::new(Self {
            progress: Mutex::new(Progress {
                pending: 0,
                abandoned: false,
                error: None,
                direct,
            }),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        // Every critical section only updates counters and options: consistent after a panic.
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives the file up: blocks of it not yet written are skipped.
    pub(super) fn abandon(&self) {
        self.lock().abandoned = true;
    }

    /// Whether the file was given up ([`Tracker::abandon`]).
    pub(super) fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }

    /// Counts one more block as held, queued or being written (before it is queued, see
    /// [`submit`]).
    pub(super) fn add_pending(&self) {
        self.lock().pending += 1;
    }

    /// The error of a write that failed since the last call, if any.
    pub(super) fn take_error(&self) -> Option<std::io::Error> {
        self.lock().error.take()
    }

    /// Waits until every queued block is written; fails with the first error.
    pub(super) fn wait_all(&self) -> std::io::Result<()> {
        let mut p = self.lock();
        while p.pending > 0 {
            p = self
                .done
                .wait(p)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        match p.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn complete(&self, result: std::io::Result<()>, direct: bool) {
        let mut p = self.lock();
        p.pending -= 1;
        p.direct &= direct;
        if let Err(e) = result
            && p.error.is_none()
        {
            p.error = Some(e);
        }
        self.done.notify_all();
    }
}

/// A block on its way to its file: a full one, or a file's tail.
pub(super) struct Block {
    pub file: Arc<File>,
    pub bounce: Bounce,
    /// Bytes of the block to write.
    pub len: usize,
    /// Written through the page cache: a tail, whose length need not be aligned (`file` is then a
    /// descriptor without `O_DIRECT`).
    pub buffered: bool,
    /// Where the block starts in the file.
    pub offset: u64,
    pub tracker: Arc<Tracker>,
}

impl Block {
    pub(super) fn write(self) {
        let Block {
            file,
            bounce,
            len,
            buffered,
            offset,
            tracker,
        } = self;
        let (skip, mut direct) = {
            let p = tracker.lock();
            (p.error.is_some() || p.abandoned, p.direct)
        };
        // After a failure, or once the file is given up, later blocks are not written.
        let data = &bounce.block()[..len];
        let result = if skip {
            Ok(())
        } else if buffered {
            file.write_all_at(data, offset)
        } else {
            write_block(&file, data, offset, &mut direct).map(drop)
        };
        // The file and the buffer go before the block counts as written, so that whoever waits
        // for the file's blocks then holds the only reference to it.
        drop(file);
        drop(bounce);
        tracker.complete(result, direct);
    }
}

/// Queues `block` for the writing threads (or, where none could be started, writes it here);
/// its tracker counts it already ([`Tracker::add_pending`]).
pub(super) fn submit(block: Block) {
    match sender() {
        Some(tx) => {
            if let Err(back) = tx.send(block) {
                back.0.write();
            }
        }
        None => block.write(),
    }
}

/// The writing threads' queue, started on first use; `None` if no thread could be started.
fn sender() -> Option<&'static SyncSender<Block>> {
    static QUEUE: OnceLock<Option<SyncSender<Block>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Block>(QUEUED);
            let rx = Arc::new(Mutex::new(rx));
            let started = (0..WRITERS)
                .filter(|_| {
                    let rx = Arc::clone(&rx);
                    std::thread::Builder::new()
                        .name("hoard-pack-io".into())
                        .spawn(move || {
                            while let Ok(block) = next_block(&rx) {
                                block.write();
                            }
                        })
                        .is_ok()
                })
                .count();
            (started > 0).then_some(tx)
        })
        .as_ref()
}

/// The next queued block; the queue is locked only to take it, not while it is written.
fn next_block(rx: &Mutex<Receiver<Block>>) -> Result<Block, RecvError> {
    rx.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .recv()
}

/// Writes `data` at `offset` of `file`, with `O_DIRECT` while `direct` holds; a direct write that
/// is refused (`EINVAL`) or writes less turns the flag off for good (`direct` becomes false) and
/// the rest goes through the page cache. Returns how many bytes went directly.
pub(super) fn write_block(
    file: &File,
    data: &[u8],
    offset: u64,
    direct: &mut bool,
) -> std::io::Result<usize> {
    let was_direct = *direct;
    let mut done = 0;
    while *direct && done < data.len() {
        match file.write_at(&data[done..], offset + done as u64) {
            Ok(k) if k == data.len() - done => done = data.len(),
            Ok(k) => {
                done += k;
                *direct = false;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(EINVAL) => *direct = false,
            Err(e) => return Err(e),
        }
    }
    if done < data.len() {
        if was_direct && !set_direct(file, false) {
            return Err(std::io::Error::other("could not turn O_DIRECT off again"));
        }
        file.write_all_at(&data[done..], offset + done as u64)?;
    }
    Ok(done)
}
