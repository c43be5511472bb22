//! The backup pipeline: file -> chunks -> ids -> dedup -> compress -> seal -> packs.
//!
//! A [`Writer`] is shared by the worker threads of one backup. Each file is read and cut by one
//! worker; new chunks are compressed and sealed (on that worker for a file's first MiB, and in
//! batches on the pool after that, see [`in_flight`]) and appended to the pack being filled. Full packs wait in a short queue for the caller, which stores them (through its storage
//! backend) while the workers go on; when the queue is full the workers wait, so memory stays
//! bounded whatever the size of the tree.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rayon::prelude::*;

use crate::chunk_index::{ChunkIndex, Location, PENDING};
use crate::codec::{self, Codec};
use crate::envelope::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::files_cache::{FileStat, FilesCache, Lookup};
use crate::fsmeta::{FileMeta, ScanOptions, read_file_meta};
use crate::id::ChunkId;
use crate::pack::{FinishedPack, PackBuilder};
use crate::pipeline::ChunkSettings;
use crate::pool::pool;

/// The object type of file data.
pub const CHUNK_TYPE: u8 = 0;

/// What storing one file (or stream) produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredFile {
    /// Bytes read.
    pub size: u64,
    /// The chunk ids, in file order.
    pub ids: Vec<ChunkId>,
    /// The length of each chunk.
    pub sizes: Vec<u32>,
    /// Chunks this file added to the repository.
    pub new_chunks: u32,
    /// Plaintext bytes of those chunks.
    pub new_plain: u64,
    /// Stored bytes (compressed and sealed) of those chunks.
    pub new_stored: u64,
    /// Stored bytes of all this file's chunks, new or not (its "compressed size").
    pub stored: u64,
    /// What the files cache said: borg's `--list` status.
    pub status: FileStatus,
    /// Some chunk was still being stored by another file when this one met it, so `stored` lacks
    /// its length: [`Writer::settle`] counts it once it is known.
    pub unsettled: bool,
    /// The flags, xattrs and ACLs read for a job that asked for them ([`FileJob::meta`]).
    pub meta: Option<FileMeta>,
}

/// A file's status as borg's `create --list` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileStatus {
    /// Not in the files cache: read (`A`).
    #[default]
    Added,
    /// In the files cache but changed: read (`M`).
    Modified,
    /// Unchanged: not read (`U`).
    Unchanged,
    /// Read, but its ctime (or mtime, as [`FileJob::changed`] says) moved between the walk's stat
    /// and the end of reading: its contents may mix two versions (`C`, with borg's warning). It
    /// is not remembered in the files cache, so the next backup reads it again.
    Changed,
}

/// Which time of a file, seen again after reading it, tells that it changed meanwhile (borg's
/// `create --files-changed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChangeCheck {
    /// The inode's change time (borg's default): any write, truncation, chmod or xattr change.
    #[default]
    Ctime,
    /// The modification time, for file systems whose ctime moves without a change of contents.
    Mtime,
    /// No check.
    Disabled,
}

/// A file to store: where to read it, and the stat the walk saw (for the files cache).
pub struct FileJob {
    /// The path to read.
    pub path: PathBuf,
    /// The stat before reading; without it the files cache is not consulted.
    pub stat: Option<FileStat>,
    /// Read the file's flags, xattrs and ACLs too, as these options ask (for a file whose scan
    /// deferred them: `ScanOptions::defer_files`): through the descriptor opened to read it, or,
    /// for an unchanged file, which is not read, through one opened for them.
    pub meta: Option<ScanOptions>,
    /// Which time, compared with `stat`'s after the file is read, marks it [`FileStatus::Changed`].
    pub changed: ChangeCheck,
}

/// A file's change and modification times in ns, as [`FileStat`] holds them.
fn times_ns(m: &std::fs::Metadata) -> (i64, i64) {
    let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
    (ns(m.ctime(), m.ctime_nsec()), ns(m.mtime(), m.mtime_nsec()))
}

/// Totals of what a writer added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterTotals {
    /// Blobs added.
    pub blobs: u64,
    /// Their plaintext bytes.
    pub plain: u64,
    /// Their stored bytes.
    pub stored: u64,
    /// Packs finished.
    pub packs: u64,
}

struct Queue {
    ready: VecDeque<FinishedPack>,
    closed: bool,
    error: Option<Error>,
}

/// Settings of a writer.
pub struct WriterConfig {
    /// How file data is cut and identified.
    pub chunking: ChunkSettings,
    /// How blobs are compressed.
    pub codec: Codec,
    /// A pack is closed once it holds at least this many bytes.
    pub pack_size: usize,
    /// Finished packs that may wait for the caller before workers block.
    pub queue: usize,
    /// Where packs are built in staging files instead of in memory, if anywhere.
    pub staging: Option<Staging>,
}

/// Where a writer builds its packs in staging files (see [`PackBuilder::staged`]).
#[derive(Debug, Clone)]
pub struct Staging {
    /// The folder, on the file system the packs are stored on.
    pub dir: PathBuf,
    /// Bytes that must stay free there besides the staging files: a pack is built in memory
    /// instead (and its storing then meets the repository's space limits before any byte is
    /// written) unless the free space covers this plus two full packs for each staging file that
    /// exists and for the new one.
    pub reserve: u64,
}

/// One backup's pipeline state (see the module docs).
pub struct Writer {
    config: WriterConfig,
    session: Session,
    index: Arc<Mutex<ChunkIndex>>,
    files: Option<Arc<Mutex<FilesCache>>>,
    current: Mutex<Option<PackBuilder>>,
    queue: Mutex<Queue>,
    changed: Condvar,
    blobs: AtomicU64,
    plain: AtomicU64,
    stored: AtomicU64,
    packs: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding a lock left consistent data: every critical section
    // here only pushes or swaps whole values.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

thread_local! {
    /// Read space for cutting files into chunks.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Space in which a blob's frame is built and sealed.
    static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Files in a row this thread has cut that were at most [`SMALL_FILE`] bytes long.
    static SMALL_RUN: Cell<u32> = const { Cell::new(0) };
}

/// A file this long or shorter needs at most this much of a thread's read and blob buffers.
pub const SMALL_FILE: u64 = 1 << 20;

/// After this many small files in a row, a thread frees read and blob buffers larger than
/// [`KEPT_BUFFER`]: the large chunks of the files before them are not needed for the small files
/// that follow (a tree's many small files would otherwise hold each worker's 9 MiB read buffer
/// and up to 8 MiB blob buffer), and a run this long makes the fault-in of a new buffer, when the
/// next large file comes, rare.
pub const SMALL_RUN_RELEASE: u32 = 64;

/// The largest read or blob buffer a thread keeps through a run of small files.
pub const KEPT_BUFFER: usize = 2 * crate::pipeline::READ_SIZE;

/// Counts a file of `size` bytes cut on this thread; frees its large buffers once
/// [`SMALL_RUN_RELEASE`] small files came in a row (see there). A buffer in use is left alone.
fn note_file_size(size: u64) {
    let run = if size <= SMALL_FILE {
        SMALL_RUN.with(Cell::get).saturating_add(1)
    } else {
        0
    };
    SMALL_RUN.with(|c| c.set(run));
    if run == SMALL_RUN_RELEASE {
        for cell in [&BUFFER, &BODY] {
            cell.with(|b| {
                if let Ok(mut b) = b.try_borrow_mut()
                    && b.capacity() > KEPT_BUFFER
                {
                    *b = Vec::new();
                }
            });
        }
    }
}

/// The capacities of this thread's read and blob buffers (for tests).
#[cfg(test)]
fn buffer_capacities() -> (usize, usize) {
    (
        BUFFER.with(|b| b.borrow().capacity()),
        BODY.with(|b| b.borrow().capacity()),
    )
}

impl Writer {
    /// A writer sealing under `session`, deduplicating against (and adding to) `index`.
    pub fn new(
        config: WriterConfig,
        session: Session,
        index: Arc<Mutex<ChunkIndex>>,
        files: Option<Arc<Mutex<FilesCache>>>,
    ) -> Self {
        Self {
            config,
            session,
            index,
            files,
            current: Mutex::new(None),
            queue: Mutex::new(Queue {
                ready: VecDeque::new(),
                closed: false,
                error: None,
            }),
            changed: Condvar::new(),
            blobs: AtomicU64::new(0),
            plain: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            packs: AtomicU64::new(0),
        }
    }

    /// What this writer added so far.
    pub fn totals(&self) -> WriterTotals {
        WriterTotals {
            blobs: self.blobs.load(Ordering::Relaxed),
            plain: self.plain.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            packs: self.packs.load(Ordering::Relaxed),
        }
    }

    fn enqueue(&self, pack: FinishedPack) -> Result<()> {
        let mut q = lock(&self.queue);
        while q.ready.len() >= self.config.queue.max(1) && q.error.is_none() && !q.closed {
            q = self
                .changed
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if let Some(e) = &q.error {
            return Err(e.clone());
        }
        q.ready.push_back(pack);
        self.packs.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_all();
        Ok(())
    }

    /// The staging folder if a new pack may be built there (see [`Staging::reserve`]).
    fn staging_room(&self) -> Option<&Path> {
        let staging = self.config.staging.as_ref()?;
        let packs = crate::pack::staged_packs() as u64 + 1;
        // A pack closes once it holds `pack_size`, so it is at most that plus its last blob: a
        // chunk (at most a pack's size) or, padded by obfuscate, a frame of up to its maximum
        // (1 KiB more for the envelope, 42 bytes, with room to spare).
        let blob = match self.config.codec {
            Codec::Obfuscate(..) => codec::OBFUSCATED_MAX + 1024,
            _ => self.config.pack_size,
        };
        let needed = ((self.config.pack_size + blob) as u64)
            .saturating_mul(packs)
            .saturating_add(staging.reserve);
        // Before the first pack the folder may not exist yet: its parent's file system.
        let free = crate::pack::free_space(&staging.dir)
            .or_else(|| staging.dir.parent().and_then(crate::pack::free_space))
            .unwrap_or(0);
        (free >= needed).then_some(staging.dir.as_path())
    }

    /// Closes pack `p`; a failure (its staging file could not be written) fails the backup.
    fn finish_pack(&self, p: PackBuilder) -> Result<FinishedPack> {
        p.finish(&self.session)
            .inspect_err(|e| self.fail(e.clone()))
    }

    /// The codec new blobs are compressed with.
    pub fn codec(&self) -> Codec {
        self.config.codec
    }

    /// Stores one sealed blob `pieces` for `id`; returns its stored length. With `replace`, the
    /// index places `id` at the new copy even if it had another.
    fn append(
        &self,
        obj_type: u8,
        id: &ChunkId,
        plain: u32,
        pieces: &[&[u8]],
        replace: bool,
    ) -> Result<u32> {
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        let (loc, full, ready) = {
            let mut cur = lock(&self.current);
            if cur.is_none() {
                // After a failure no new pack (nor staging file) is started.
                if let Some(e) = &lock(&self.queue).error {
                    return Err(e.clone());
                }
                let pid = crate::pack::random_id()?;
                *cur = Some(match self.staging_room() {
                    Some(dir) => PackBuilder::staged(pid, dir, self.config.pack_size)
                        .inspect_err(|e| self.fail(e.clone()))?,
                    None => PackBuilder::new(pid, self.config.pack_size + len + 4096),
                });
            }
            let Some(pack) = cur.as_mut() else {
                return Err(Error::new(ErrorKind::Internal, "no pack to append to"));
            };
            let e = match pack.push_held(obj_type, id, plain, pieces) {
                Ok(e) => e,
                Err(e) => {
                    // The staging file may hold part of the blob: the pack is given up, and with
                    // it the backup (blobs the index places there are lost).
                    cur.take();
                    self.fail(e.clone());
                    return Err(e);
                }
            };
            let pack_no = lock(&self.index).add_pack(&pack.id);
            let loc = Location {
                pack: pack_no,
                offset: e.offset,
                length: e.length,
            };
            // The blocks this blob filled are queued once the lock is released: queueing waits
            // while the device is behind, and the other workers need the lock meanwhile.
            let ready = pack.take_ready();
            let full = if pack.len() >= self.config.pack_size {
                cur.take()
            } else {
                None
            };
            (loc, full, ready)
        };
        drop(ready);
        if replace {
            lock(&self.index).replace(id, loc, plain);
        } else {
            lock(&self.index).insert(id, loc, plain);
        }
        if let Some(p) = full {
            self.enqueue(self.finish_pack(p)?)?;
        }
        Ok(len as u32)
    }

    /// Compresses, seals and stores a blob unless the index has it. Returns the stored length if
    /// it was new.
    pub fn store(&self, obj_type: u8, id: &ChunkId, data: &[u8]) -> Result<Option<u32>> {
        self.store_with(obj_type, id, data, self.config.codec)
    }

    /// [`Writer::store`] with `codec` in place of the writer's own.
    pub fn store_with(
        &self,
        obj_type: u8,
        id: &ChunkId,
        data: &[u8],
        codec: Codec,
    ) -> Result<Option<u32>> {
        let pending = Location {
            pack: PENDING,
            offset: 0,
            length: 0,
        };
        if !lock(&self.index).insert(id, pending, 0) {
            return Ok(None);
        }
        // The frame is compressed and sealed in a per-thread buffer that keeps its size, so
        // storing a chunk allocates nothing and needs no second buffer.
        BODY.with(|cell| -> Result<u32> {
            let mut body = cell.borrow_mut();
            let n = codec::compress_frame_in(codec, data, &mut body)?;
            self.seal_body(obj_type, id, data.len(), &mut body[..n], false)
        })
        .map(Some)
    }

    /// Seals `body` (a compression frame of a plaintext of `plain` bytes) in place as blob `id`
    /// and appends it; returns its stored length.
    fn seal_body(
        &self,
        obj_type: u8,
        id: &ChunkId,
        plain: usize,
        body: &mut [u8],
        replace: bool,
    ) -> Result<u32> {
        let (header, tag) = self.session.seal_detached(obj_type, id, body)?;
        // Chunks and metadata objects are far below 4 GiB (the chunker's maximum is 2^23).
        let n = self.append(obj_type, id, plain as u32, &[&header, body, &tag], replace)?;
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.plain.fetch_add(plain as u64, Ordering::Relaxed);
        self.stored.fetch_add(u64::from(n), Ordering::Relaxed);
        Ok(n)
    }

    /// Stores a new copy of blob `id` (already in the index) from its compression `frame`,
    /// and places `id` there: the old copy becomes garbage for compact. Returns the stored length.
    pub fn store_replacing(
        &self,
        obj_type: u8,
        id: &ChunkId,
        plain: usize,
        frame: &codec::Frame<'_>,
    ) -> Result<u32> {
        BODY.with(|cell| {
            let mut body = cell.borrow_mut();
            body.clear();
            let [a, b] = frame.parts();
            body.extend_from_slice(a);
            body.extend_from_slice(b);
            self.seal_body(obj_type, id, plain, &mut body, true)
        })
    }

    /// Reads everything from `reader`, storing its chunks; after the first MiB, the chunks are
    /// stored on the pool while the reader is cut on (see [`in_flight`]).
    pub fn store_reader<R: Read>(&self, reader: R, path: &Path) -> Result<StoredFile> {
        self.store_spread(reader, path, in_flight::LIMITS)
    }

    /// Reads and stores the file at `path`.
    pub fn store_file(&self, path: &Path) -> Result<StoredFile> {
        self.store_file_meta(path, None)
    }

    /// Reads and stores the file at `path`, and where `meta` asks, its flags, xattrs and ACLs,
    /// read through the descriptor it is read with (before its contents).
    fn store_file_meta(&self, path: &Path, meta: Option<&ScanOptions>) -> Result<StoredFile> {
        self.store_file_seen(path, meta, false).map(|(f, _)| f)
    }

    /// [`Writer::store_file_meta`]; with `restat`, also the file's ctime and mtime in ns (see
    /// [`times_ns`]) through its descriptor once every byte is read.
    fn store_file_seen(
        &self,
        path: &Path,
        meta: Option<&ScanOptions>,
        restat: bool,
    ) -> Result<(StoredFile, Option<(i64, i64)>)> {
        let file = File::open(path).map_err(|e| Error::io(path, &e))?;
        let read = meta.map(|o| read_file_meta(Some(file.as_fd()), path.as_os_str().as_bytes(), o));
        let mut out = self.store_reader(&file, path)?;
        out.meta = read;
        let after = if restat {
            Some(times_ns(&file.metadata().map_err(|e| Error::io(path, &e))?))
        } else {
            None
        };
        Ok((out, after))
    }

    /// Stores many files on the worker pool; one result per path, in order.
    pub fn store_files(&self, paths: &[PathBuf]) -> Vec<Result<StoredFile>> {
        let mut out: Vec<_> =
            pool().install(|| paths.par_iter().map(|p| self.store_file(p)).collect());
        out.iter_mut().flatten().for_each(|f| self.settle(f));
        out
    }

    /// Counts the chunks an unsettled file (see [`StoredFile::unsettled`]) met while another file
    /// was storing them, once every one is stored, so that its `stored` (the item's `csize`) does
    /// not depend on the timing of the threads, and an unchanged file's item stays the same.
    pub fn settle(&self, file: &mut StoredFile) {
        if !file.unsettled {
            return;
        }
        let index = lock(&self.index);
        let mut stored = 0u64;
        for id in &file.ids {
            match index.get(id) {
                Some(l) if l.pack != PENDING => stored += u64::from(l.length),
                _ => return,
            }
        }
        file.stored = stored;
        file.unsettled = false;
    }

    /// A files-cache hit whose chunks are all in the index, as a stored file.
    fn cached(&self, job: &FileJob) -> Option<StoredFile> {
        let (stat, files) = (job.stat.as_ref()?, self.files.as_ref()?);
        let key = job.path.as_os_str().as_encoded_bytes();
        let mut cache = lock(files);
        let (ids, sizes) = match cache.lookup(key, stat) {
            Lookup::Hit(ids, sizes) => (ids.to_vec(), sizes.to_vec()),
            _ => return None,
        };
        drop(cache);
        let index = lock(&self.index);
        let mut stored = 0u64;
        for id in &ids {
            let loc = index.get(id).filter(|l| l.pack != PENDING)?;
            stored += u64::from(loc.length);
        }
        Some(StoredFile {
            size: sizes.iter().map(|&s| u64::from(s)).sum(),
            ids,
            sizes,
            stored,
            status: FileStatus::Unchanged,
            ..StoredFile::default()
        })
    }

    /// Stores one file, or takes it from the files cache when unchanged; remembers it there.
    pub fn store_job(&self, job: &FileJob) -> Result<StoredFile> {
        if let Some(mut hit) = self.cached(job) {
            if let Some(o) = &job.meta {
                hit.meta = Some(read_file_meta(None, job.path.as_os_str().as_bytes(), o));
            }
            return Ok(hit);
        }
        let known = match (&job.stat, &self.files) {
            (Some(stat), Some(files)) => !matches!(
                lock(files).lookup(job.path.as_os_str().as_encoded_bytes(), stat),
                Lookup::Unknown
            ),
            _ => false,
        };
        let check = job.stat.is_some() && job.changed != ChangeCheck::Disabled;
        let (mut out, after) = self.store_file_seen(&job.path, job.meta.as_ref(), check)?;
        let changed = match (&job.stat, after, job.changed) {
            (Some(s), Some((ctime, _)), ChangeCheck::Ctime) => ctime != s.ctime,
            (Some(s), Some((_, mtime)), ChangeCheck::Mtime) => mtime != s.mtime,
            _ => false,
        };
        out.status = if changed {
            FileStatus::Changed
        } else if known {
            FileStatus::Modified
        } else {
            FileStatus::Added
        };
        if let (Some(stat), Some(files)) = (&job.stat, &self.files) {
            // What was read is remembered under the stat seen before reading; a file that grew
            // or shrank meanwhile, or changed while it was read, is not.
            if out.size == stat.size && !changed {
                lock(files).remember(
                    job.path.as_os_str().as_encoded_bytes(),
                    stat,
                    &out.ids,
                    &out.sizes,
                );
            }
        }
        Ok(out)
    }

    /// Stores many files (or takes them from the files cache) on the worker pool; one result per
    /// job, in order.
    pub fn store_jobs(&self, jobs: &[FileJob]) -> Vec<Result<StoredFile>> {
        let mut out: Vec<_> =
            pool().install(|| jobs.par_iter().map(|j| self.store_job(j)).collect());
        // Every chunk these jobs stored is in the index now.
        out.iter_mut().flatten().for_each(|f| self.settle(f));
        out
    }

    /// Stores metadata objects (e.g. trees) of `obj_type`, identified by `ids` of their
    /// plaintexts, compressed with `codec` (the writer's own if `None`; padded as the writer's
    /// is, if it obfuscates), on the worker pool; returns which were new.
    pub fn store_objects(
        &self,
        obj_type: u8,
        objects: &[(ChunkId, &[u8])],
        codec: Option<Codec>,
    ) -> Result<Vec<bool>> {
        // The writer's obfuscation pads every object it stores, trees too (as borg pads its item
        // metadata), whatever codec they are compressed with.
        let codec = match codec {
            Some(c) => c.obfuscated_as(self.config.codec),
            None => self.config.codec,
        };
        pool().install(|| {
            objects
                .par_iter()
                .map(|(id, data)| {
                    self.store_with(obj_type, id, data, codec)
                        .map(|n| n.is_some())
                })
                .collect()
        })
    }

    /// Closes the pack being filled (if any) and queues it.
    pub fn flush(&self) -> Result<()> {
        let pack = lock(&self.current).take();
        match pack {
            Some(p) if !p.is_empty() => self.enqueue(self.finish_pack(p)?),
            _ => Ok(()),
        }
    }

    /// Waits for the next finished pack; `None` once the writer is closed and the queue empty.
    pub fn next_pack(&self) -> Result<Option<FinishedPack>> {
        let mut q = lock(&self.queue);
        loop {
            if let Some(p) = q.ready.pop_front() {
                self.changed.notify_all();
                return Ok(Some(p));
            }
            if let Some(e) = &q.error {
                return Err(e.clone());
            }
            if q.closed {
                return Ok(None);
            }
            q = self
                .changed
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Ends the stream of packs: [`Writer::next_pack`] returns `None` once the queue is empty.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
        self.changed.notify_all();
    }

    /// Fails every waiting and later call with `error` (the caller could not store a pack), and
    /// drops the pack being filled (removing its staging file, if it has one).
    pub fn abort(&self, error: Error) {
        self.fail(error);
        drop(lock(&self.current).take());
    }

    /// Fails every waiting and later call with `error`; the queued packs are dropped.
    fn fail(&self, error: Error) {
        let mut q = lock(&self.queue);
        q.error = Some(error);
        q.ready.clear();
        self.changed.notify_all();
    }
}

mod in_flight;
#[cfg(test)]
mod tests;
