//! One file's chunks stored on the pool while the file is cut on.
//!
//! Cutting a file into chunks is sequential, but identifying, deduplicating, compressing and
//! sealing each chunk is not. So after a file's first [`Limits::inline`] bytes, which are stored
//! as they are cut (a small file never leaves its worker), the cutting worker copies the chunks
//! it cuts into batches of about [`Limits::batch`] bytes. Each batch becomes a pool job, and the
//! worker cuts on. Once more than [`Limits::window`] bytes are in flight, the worker takes the
//! oldest batch back: it stores it itself if no other thread has started it, or waits for the
//! thread that did. The results are taken in file order, so the ids and sizes come out as the
//! sequential cutting's; only the order of the blobs in the packs may differ. A chunk that
//! appears twice in flight is stored once: the chunk index's `PENDING` claim decides which copy.
//!
//! The worker never waits for a batch that no thread runs, so two workers each cutting a large
//! file cannot wait for each other, and memory stays bounded per file: the window, the batch
//! being filled, and the batch buffers, which are reused.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use super::{BUFFER, CHUNK_TYPE, StoredFile, Writer, lock};
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
    /// At most this many bytes of batches are in flight per file.
    pub window: usize,
}

/// The limits a writer uses.
pub(super) const LIMITS: Limits = Limits {
    inline: 1 << 20,
    batch: 1 << 20,
    window: 4 << 20,
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
            let known = index.get(&self.out.ids[at]).map_or(0, |l| l.length);
            self.out.stored += u64::from(known);
        }
        drop(index);
        self.out.size = size;
        self.out
    }
}

/// The batches of one file in flight, oldest first, and the one being filled.
struct Window {
    limits: Limits,
    slots: VecDeque<Arc<Slot>>,
    bytes: usize,
    filling: Batch,
    spare: Vec<Vec<u8>>,
}

impl Window {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            slots: VecDeque::new(),
            bytes: 0,
            filling: Batch {
                data: Vec::new(),
                sizes: Vec::new(),
            },
            spare: Vec::new(),
        }
    }

    /// Puts `chunk` in flight, alone if it is as large as a batch, else copied into the batch
    /// being filled; calls `ready` with each batch that is complete.
    fn add(&mut self, chunk: &[u8], mut ready: impl FnMut(Arc<Slot>)) {
        let batch = self.limits.batch;
        if !self.filling.sizes.is_empty() && self.filling.data.len() + chunk.len() > batch {
            ready(self.submit_filling());
        }
        // A chunk is at most 2^23 bytes.
        let size = chunk.len() as u32;
        if chunk.len() >= batch {
            ready(self.submit(Batch {
                data: chunk.to_vec(),
                sizes: vec![size],
            }));
            return;
        }
        if self.filling.data.capacity() < batch {
            self.filling.data = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(batch));
        }
        self.filling.data.extend_from_slice(chunk);
        self.filling.sizes.push(size);
    }

    /// Puts the batch being filled in flight.
    fn submit_filling(&mut self) -> Arc<Slot> {
        let empty = Batch {
            data: Vec::new(),
            sizes: Vec::new(),
        };
        let batch = std::mem::replace(&mut self.filling, empty);
        self.submit(batch)
    }

    fn submit(&mut self, batch: Batch) -> Arc<Slot> {
        self.bytes += batch.data.len();
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Queued(batch)),
            done: Condvar::new(),
        });
        self.slots.push_back(slot.clone());
        slot
    }

    fn over(&self) -> bool {
        self.bytes > self.limits.window
    }

    /// Takes the stored batches at the front into `tally`; says whether there were any.
    fn take_stored(&mut self, tally: &mut Tally) -> Result<bool> {
        let mut took = false;
        while let Some((outcomes, mut batch)) = self.slots.front().and_then(|s| s.take()) {
            self.slots.pop_front();
            took = true;
            self.bytes -= batch.data.len();
            for (outcome, &size) in outcomes?.into_iter().zip(&batch.sizes) {
                tally.push(outcome, size);
            }
            // Batch-sized buffers are reused; a large chunk's own copy is freed.
            if batch.data.capacity() <= self.limits.batch {
                batch.data.clear();
                self.spare.push(batch.data);
            }
        }
        Ok(took)
    }

    /// Takes at least the oldest batch into `tally`: stores a batch that no thread has started
    /// (the oldest such) while the oldest is not stored yet, and waits for it only when every
    /// batch has been started.
    fn make_room(&mut self, writer: &Writer, tally: &mut Tally) -> Result<()> {
        while !self.take_stored(tally)? {
            let Some(front) = self.slots.front() else {
                return Ok(());
            };
            match self.slots.iter().find_map(|s| s.claim().map(|b| (s, b))) {
                Some((slot, batch)) => slot.finish(writer, batch),
                None => front.wait(),
            }
        }
        Ok(())
    }

    /// Drops the batches no thread has started.
    fn cancel(&self) {
        for slot in &self.slots {
            slot.cancel();
        }
    }
}

impl Writer {
    /// Identifies and stores the chunks of `batch`.
    fn store_chunks(&self, batch: &Batch) -> Result<Vec<Outcome>> {
        let mut at = 0;
        let mut out = Vec::with_capacity(batch.sizes.len());
        for &size in &batch.sizes {
            let chunk = &batch.data[at..at + size as usize];
            at += size as usize;
            let id = self.config.chunking.ids.id(chunk);
            out.push((id, self.store(CHUNK_TYPE, &id, chunk)?));
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
                            if tally.bytes < limits.inline {
                                let id = settings.ids.id(chunk);
                                let new = self.store(CHUNK_TYPE, &id, chunk)?;
                                // A chunk is at most 2^23 bytes.
                                tally.push((id, new), chunk.len() as u32);
                                return Ok(());
                            }
                            window.add(chunk, |slot| scope.spawn(move |_| slot.run(self)));
                            while window.over() {
                                window.make_room(self, &mut tally)?;
                            }
                            Ok(())
                        },
                    )
                });
                let end = read.and_then(|size| {
                    if !window.filling.sizes.is_empty() {
                        window.submit_filling();
                    }
                    while !window.slots.is_empty() {
                        window.make_room(self, &mut tally)?;
                    }
                    Ok(size)
                });
                if end.is_err() {
                    window.cancel();
                }
                end
            })
            .map(|size| tally.finish(self, size))
    }
}
