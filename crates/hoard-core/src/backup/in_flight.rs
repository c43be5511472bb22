//! One file's chunks stored on the pool while the file is cut on.
//!
//! Cutting a file into chunks is sequential, but identifying, deduplicating, compressing and
//! sealing each chunk is not. Past a file's first [`Limits::inline`] bytes (so a small file never
//! leaves its worker), the cutting worker copies the chunks it cuts into batches of about
//! [`Limits::batch`] bytes and hands each to the pool, as long as fewer than [`Limits::batches`]
//! of its batches are out; while they are, it stores the chunks it cuts itself, straight from the
//! read buffer. So another thread that is free always finds work, and none is copied for a
//! thread that is busy. Results are taken in file order, so the ids and sizes come out as the
//! sequential cutting's; only the order of the blobs in the packs may differ. A chunk that
//! appears twice in flight is stored once: the chunk index's `PENDING` claim decides which copy.
//!
//! At the end of the file the worker stores the batches no thread has started and waits only for
//! those another thread is storing, so two workers each cutting a large file never wait for each
//! other. Memory stays bounded per file: the batch buffers (at most `batches` + 1, reused) and
//! one small entry per chunk.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use super::{BUFFER, CHUNK_TYPE, StoredFile, Writer, lock};
use crate::chunk_index::PENDING;
use crate::chunker::Chunker;
use crate::error::{Error, Result};
use crate::id::ChunkId;
use crate::pipeline::{READ_SIZE, for_each_chunk};
use crate::pool::pool;

/// How a file's chunks are spread over the pool.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Chunks are stored as they are cut until the file has yielded this many bytes.
    pub inline: u64,
    /// A batch is handed to the pool once it holds at least this many bytes.
    pub batch: usize,
    /// At most this many batches of a file are out on the pool; while they are, the cutting
    /// worker stores the chunks it cuts itself.
    pub batches: usize,
}

/// The limits a writer uses.
pub(super) const LIMITS: Limits = Limits {
    inline: 1 << 20,
    batch: 1 << 20,
    batches: 2,
};

/// Consecutive chunks of a file, copied out of the read buffer.
struct Batch {
    data: Vec<u8>,
    sizes: Vec<u32>,
}

/// A chunk's id and, if this file stored it, its stored length.
type Outcome = (ChunkId, Option<u32>);

enum State {
    Queued(Batch),
    Running,
    /// The outcomes, and the batch (for its sizes, and its buffer to reuse).
    Done(Result<Vec<Outcome>>, Batch),
    Cancelled,
}

/// A batch on its way through the pool.
struct Slot {
    state: Mutex<State>,
    done: Condvar,
}

impl Slot {
    /// Takes the batch if no thread has started it.
    fn claim(&self) -> Option<Batch> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, State::Running) {
            State::Queued(batch) => Some(batch),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Stores the batch unless another thread has taken it (the pool job).
    fn run(&self, writer: &Writer) {
        if let Some(batch) = self.claim() {
            self.finish(writer, batch);
        }
    }

    fn finish(&self, writer: &Writer, batch: Batch) {
        let outcomes = writer.store_chunks(&batch);
        *lock(&self.state) = State::Done(outcomes, batch);
        self.done.notify_all();
    }

    /// Waits until the batch is stored.
    fn wait(&self) {
        let mut state = lock(&self.state);
        while !matches!(*state, State::Done(..)) {
            state = self
                .done
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The outcomes and the batch, once it is stored.
    fn take(&self) -> Option<(Result<Vec<Outcome>>, Batch)> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, State::Cancelled) {
            State::Done(outcomes, batch) => Some((outcomes, batch)),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Drops the batch if no thread has started it.
    fn cancel(&self) {
        let mut state = lock(&self.state);
        if matches!(*state, State::Queued(_)) {
            *state = State::Cancelled;
        }
    }
}

/// What a file has produced so far, in file order.
#[derive(Default)]
struct Tally {
    out: StoredFile,
    /// Bytes of the chunks pushed.
    bytes: u64,
    /// Positions of the chunks the repository had already; their stored lengths are looked up
    /// at the end, when every copy this file claimed has its place.
    known: Vec<usize>,
}

impl Tally {
    fn push(&mut self, (id, new): Outcome, size: u32) {
        if let Some(n) = new {
            self.out.new_chunks += 1;
            self.out.new_plain += u64::from(size);
            self.out.new_stored += u64::from(n);
            self.out.stored += u64::from(n);
        } else {
            self.known.push(self.out.ids.len());
        }
        self.out.ids.push(id);
        self.out.sizes.push(size);
        self.bytes += u64::from(size);
    }

    fn finish(mut self, writer: &Writer, size: u64) -> StoredFile {
        let index = lock(&writer.index);
        for &at in &self.known {
            match index.get(&self.out.ids[at]) {
                Some(l) if l.pack != PENDING => self.out.stored += u64::from(l.length),
                // Another file is still storing it: `Writer::settle` counts it later.
                _ => self.out.unsettled = true,
            }
        }
        drop(index);
        self.out.size = size;
        self.out
    }
}

/// A chunk's place in the file's results: stored by the cutting worker, or in a batch.
enum Pending {
    Stored(Outcome, u32),
    Batch(Arc<Slot>),
}

/// One file's chunks in file order, from the first not yet in the tally, and the batch being
/// filled.
struct Window {
    limits: Limits,
    /// Bytes cut so far.
    cut: u64,
    pending: VecDeque<Pending>,
    /// Batches handed to the pool and not yet taken back.
    batches: usize,
    filling: Batch,
    spare: Vec<Vec<u8>>,
}

impl Window {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            cut: 0,
            pending: VecDeque::new(),
            batches: 0,
            filling: Batch {
                data: Vec::new(),
                sizes: Vec::new(),
            },
            spare: Vec::new(),
        }
    }

    /// Whether the next chunk goes to the pool: past the first bytes of the file, while fewer
    /// than the allowed batches are out.
    fn hands_off(&self) -> bool {
        self.cut > self.limits.inline && self.batches < self.limits.batches
    }

    /// Copies `chunk` into the batch being filled; returns that batch once it is full.
    fn add(&mut self, chunk: &[u8]) -> Option<Arc<Slot>> {
        if self.filling.sizes.is_empty() {
            self.filling.data = self.spare.pop().unwrap_or_default();
        }
        // Exactly: a doubling would let a reused batch buffer keep up to twice its largest size.
        self.filling.data.reserve_exact(chunk.len());
        self.filling.data.extend_from_slice(chunk);
        // A chunk is at most 2^23 bytes.
        self.filling.sizes.push(chunk.len() as u32);
        (self.filling.data.len() >= self.limits.batch).then(|| self.submit())
    }

    /// Hands the batch being filled to the pool.
    fn submit(&mut self) -> Arc<Slot> {
        let empty = Batch {
            data: Vec::new(),
            sizes: Vec::new(),
        };
        let batch = std::mem::replace(&mut self.filling, empty);
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Queued(batch)),
            done: Condvar::new(),
        });
        self.pending.push_back(Pending::Batch(slot.clone()));
        self.batches += 1;
        slot
    }

    /// Takes the finished chunks at the front into `tally`.
    fn take_finished(&mut self, tally: &mut Tally) -> Result<()> {
        while let Some(front) = self.pending.front() {
            match front {
                Pending::Stored(outcome, size) => tally.push(*outcome, *size),
                Pending::Batch(slot) => {
                    let Some((outcomes, mut batch)) = slot.take() else {
                        return Ok(());
                    };
                    self.batches -= 1;
                    for (outcome, &size) in outcomes?.into_iter().zip(&batch.sizes) {
                        tally.push(outcome, size);
                    }
                    batch.data.clear();
                    self.spare.push(batch.data);
                }
            }
            self.pending.pop_front();
        }
        Ok(())
    }

    /// Takes every chunk into `tally`: stores the batches no thread has started, and waits for
    /// the others.
    fn take_all(&mut self, writer: &Writer, tally: &mut Tally) -> Result<()> {
        loop {
            self.take_finished(tally)?;
            let Some(Pending::Batch(front)) = self.pending.front() else {
                return Ok(());
            };
            let unstarted = self.pending.iter().find_map(|p| match p {
                Pending::Batch(s) => s.claim().map(|b| (s, b)),
                Pending::Stored(..) => None,
            });
            match unstarted {
                Some((slot, batch)) => slot.finish(writer, batch),
                None => front.wait(),
            }
        }
    }

    /// Drops the batches no thread has started.
    fn cancel(&self) {
        for p in &self.pending {
            if let Pending::Batch(slot) = p {
                slot.cancel();
            }
        }
    }
}

impl Writer {
    /// Identifies and stores `chunk`.
    fn store_chunk(&self, chunk: &[u8]) -> Result<Outcome> {
        let id = self.config.chunking.ids.id(chunk);
        Ok((id, self.store(CHUNK_TYPE, &id, chunk)?))
    }

    /// Identifies and stores the chunks of `batch`.
    fn store_chunks(&self, batch: &Batch) -> Result<Vec<Outcome>> {
        let mut at = 0;
        let mut out = Vec::with_capacity(batch.sizes.len());
        for &size in &batch.sizes {
            out.push(self.store_chunk(&batch.data[at..at + size as usize])?);
            at += size as usize;
        }
        Ok(out)
    }

    /// Reads everything from `reader` and stores its chunks, spreading them over the pool as
    /// `limits` say (see the module docs).
    pub(super) fn store_spread<R: Read>(
        &self,
        reader: R,
        path: &Path,
        limits: Limits,
    ) -> Result<StoredFile> {
        let settings = &self.config.chunking;
        let mut chunker = Chunker::new(&settings.params, &settings.seed);
        let mut tally = Tally::default();
        let mut window = Window::new(limits);
        pool()
            .in_place_scope(|scope| {
                let read = BUFFER.with(|cell| {
                    for_each_chunk(
                        reader,
                        &mut chunker,
                        READ_SIZE,
                        &mut cell.borrow_mut(),
                        |e| Error::io(path, &e),
                        |chunk| {
                            window.take_finished(&mut tally)?;
                            window.cut += chunk.len() as u64;
                            if window.hands_off() {
                                if let Some(slot) = window.add(chunk) {
                                    scope.spawn(move |_| slot.run(self));
                                }
                                return Ok(());
                            }
                            if !window.filling.sizes.is_empty() {
                                let slot = window.submit();
                                scope.spawn(move |_| slot.run(self));
                            }
                            // A chunk is at most 2^23 bytes.
                            let stored =
                                Pending::Stored(self.store_chunk(chunk)?, chunk.len() as u32);
                            window.pending.push_back(stored);
                            Ok(())
                        },
                    )
                });
                let end = read.and_then(|size| {
                    if !window.filling.sizes.is_empty() {
                        window.submit();
                    }
                    window.take_all(self, &mut tally)?;
                    Ok(size)
                });
                if end.is_err() {
                    window.cancel();
                }
                end
            })
            .map(|size| {
                super::note_file_size(size);
                tally.finish(self, size)
            })
    }
}
