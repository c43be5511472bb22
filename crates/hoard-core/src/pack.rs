//! Packs: many sealed blobs in one immutable object, ending with a sealed table of contents
//! (layout in docs/format.md, section 11).
//!
//! ```text
//! "HOARDPK1"                      8-byte magic
//! blob ...                        envelopes, back to back
//! table of contents               an envelope of type 5 whose id is the pack id
//! toc length                      u32 LE: bytes in the table's envelope
//! "HOARDEND"                      8-byte magic
//! ```
//!
//! The table's plaintext is a compression frame (codec none) of: version byte 1, a u32 LE entry
//! count, then per blob its type (1 byte), id (32), offset (u32 LE), length (u32 LE) and plaintext
//! length (u32 LE, the bytes the blob's compression frame decompresses to).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::codec;
use crate::direct_write::{Closing, DirectWriter, Ready};
use crate::envelope::{Opener, Session};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{ChunkId, ID_LEN};

/// The first 8 bytes of every pack.
pub const MAGIC: &[u8; 8] = b"HOARDPK1";
/// The last 8 bytes of every pack.
pub const END_MAGIC: &[u8; 8] = b"HOARDEND";
/// Bytes after the table of contents: its length and the end magic.
pub const TRAILER_LEN: usize = 12;
/// The object type byte of a pack's table of contents.
pub const TOC_TYPE: u8 = 5;
/// Bytes per table entry.
pub const ENTRY_LEN: usize = 1 + ID_LEN + 12;
/// A pack is at most this large (offsets are u32).
pub const MAX_PACK: usize = u32::MAX as usize;

/// A new random 32-byte id (for packs and index objects).
pub fn random_id() -> Result<ChunkId> {
    let mut id = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| Error::new(ErrorKind::Io, "the system random source failed"))?;
    Ok(id)
}

/// One blob of a pack, as its table of contents lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TocEntry {
    /// The object type (chunk, tree, ...).
    pub obj_type: u8,
    /// The blob's id (the chunk id of its plaintext).
    pub id: ChunkId,
    /// Where the blob starts in the pack.
    pub offset: u32,
    /// The blob's length, envelope included.
    pub length: u32,
    /// The plaintext length (what the blob decompresses to).
    pub plain: u32,
}

/// Serialises table entries into the table's plaintext (before the compression frame).
pub fn encode_toc(entries: &[TocEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + entries.len() * ENTRY_LEN);
    out.push(1);
    // A pack below 4 GiB holds fewer than 2^32 blobs.
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        out.push(e.obj_type);
        out.extend_from_slice(&e.id);
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.length.to_le_bytes());
        out.extend_from_slice(&e.plain.to_le_bytes());
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a table's plaintext, checking that every entry lies inside `body_end` bytes.
pub fn decode_toc(plain: &[u8], body_end: usize) -> Result<Vec<TocEntry>> {
    if plain.len() < 5 || plain[0] != 1 {
        return Err(Error::corrupt("table of contents has an unknown version"));
    }
    let count = u32_at(plain, 1) as usize;
    if plain.len() != 5 + count * ENTRY_LEN {
        return Err(Error::corrupt("table of contents has the wrong length"));
    }
    let mut out = Vec::with_capacity(count);
    for rec in plain[5..].chunks_exact(ENTRY_LEN) {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&rec[1..1 + ID_LEN]);
        let e = TocEntry {
            obj_type: rec[0],
            id,
            offset: u32_at(rec, 1 + ID_LEN),
            length: u32_at(rec, 5 + ID_LEN),
            plain: u32_at(rec, 9 + ID_LEN),
        };
        let end = e.offset as usize + e.length as usize;
        if (e.offset as usize) < MAGIC.len() || end > body_end {
            return Err(Error::corrupt("table of contents points outside the pack"));
        }
        out.push(e);
    }
    Ok(out)
}

/// Where the table of contents lies, from the pack's last [`TRAILER_LEN`] bytes and its size.
pub fn toc_range(trailer: &[u8], pack_len: usize) -> Result<(usize, usize)> {
    if trailer.len() != TRAILER_LEN || &trailer[4..] != END_MAGIC {
        return Err(Error::corrupt("pack does not end with a table of contents"));
    }
    let len = u32_at(trailer, 0) as usize;
    let start = pack_len
        .checked_sub(TRAILER_LEN + len)
        .filter(|&s| s >= MAGIC.len())
        .ok_or_else(|| Error::corrupt("pack's table of contents is longer than the pack"))?;
    Ok((start, len))
}

/// Opens a table of contents sealed for pack `pack_id`; `toc_start` is where it begins (the end
/// of the blobs).
pub fn open_toc(
    opener: &Opener,
    pack_id: &ChunkId,
    sealed: &[u8],
    toc_start: usize,
) -> Result<Vec<TocEntry>> {
    let frame = opener.open(TOC_TYPE, pack_id, sealed)?;
    let plain = codec::decompress(&frame, 5 + (MAX_PACK / ENTRY_LEN + 1) * ENTRY_LEN)?;
    decode_toc(&plain, toc_start)
}

/// Reads a whole pack's table of contents (the pack must start with the magic).
pub fn read_toc(opener: &Opener, pack_id: &ChunkId, pack: &[u8]) -> Result<Vec<TocEntry>> {
    if pack.len() < MAGIC.len() + TRAILER_LEN || &pack[..MAGIC.len()] != MAGIC {
        return Err(Error::corrupt("not a pack (bad magic)"));
    }
    let (start, len) = toc_range(&pack[pack.len() - TRAILER_LEN..], pack.len())?;
    open_toc(opener, pack_id, &pack[start..start + len], start)
}

/// Finished packs' buffers kept for the next packs (see [`recycle`]), at most this many.
const SPARE_BUFFERS: usize = 2;

/// Buffers given back by [`recycle`]. A pack buffer is larger than glibc's mmap threshold, so a
/// fresh one is a new mapping whose every page faults in when it is filled (a 2 GB backup took
/// 350,000 page faults that way); a kept one is already resident.
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

fn spare_list() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    // Critical sections only push or pop whole buffers.
    SPARE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An empty buffer with room for `capacity` bytes: a recycled one if there is one.
fn spare_buffer(capacity: usize) -> Vec<u8> {
    let spare = spare_list().pop();
    match spare {
        Some(mut data) => {
            data.clear();
            data.reserve(capacity);
            data
        }
        None => Vec::with_capacity(capacity),
    }
}

/// Gives the buffer of a pack whose bytes are stored back for a later [`PackBuilder`]. Buffers
/// are only kept while fewer than [`SPARE_BUFFERS`] wait, so what is kept never exceeds what
/// the packs in flight held at once.
pub fn recycle(data: Vec<u8>) {
    let mut spare = spare_list();
    if spare.len() < SPARE_BUFFERS {
        spare.push(data);
    }
}

/// A pack being filled: its bytes so far (in memory, or in a staging file) and its table.
pub struct PackBuilder {
    /// The pack's id (random), which names it and is bound into its table's seal.
    pub id: ChunkId,
    body: Body,
    /// Bytes in the pack so far.
    len: usize,
    entries: Vec<TocEntry>,
}

/// Where a pack's bytes go while it is filled.
enum Body {
    Memory(Vec<u8>),
    /// A staging file, written through an aligned 1 MiB buffer past the page cache where the
    /// file system allows ([`DirectWriter`]); the bytes are never all in memory.
    File(DirectWriter, StagedPack),
}

/// A finished pack: its id, bytes and table.
pub struct FinishedPack {
    /// The pack id.
    pub id: ChunkId,
    /// The whole pack, if it was built in memory; empty if it was built in a staging file.
    pub data: Vec<u8>,
    /// The staging file holding the whole pack, if it was built in one (see
    /// [`PackBuilder::staged`]).
    pub file: Option<StagedPack>,
    /// Its table of contents.
    pub entries: Vec<TocEntry>,
}

impl FinishedPack {
    /// The pack's size in bytes.
    pub fn size(&self) -> usize {
        match &self.file {
            Some(f) => f.len,
            None => self.data.len(),
        }
    }
}

/// A pack's staging file: a temporary file (named `.tmp-...`, which `compact` sweeps if a crash
/// leaves it) holding the pack's bytes, not yet fsynced. Dropping it removes the file unless it
/// was moved to its object's place ([`StagedPack::move_to`]).
///
/// A pack is finished without waiting for the device: its last blocks may still be on their way
/// to the file ([`Closing`]) until the file is moved or read, which waits for them first
/// ([`StagedPack::complete`]). So the worker that finished it goes on filling the next pack,
/// and the wait falls on whoever moves or reads the file (a backup's `PackBytes.writeTo`, on a
/// thread of its own).
pub struct StagedPack {
    path: PathBuf,
    /// The writes still on their way, until [`StagedPack::complete`] waits for them.
    closing: Option<Box<Closing>>,
    file: Option<File>,
    /// Why the file is not whole (a write failed), once [`StagedPack::complete`] found it.
    broken: Option<Error>,
    len: usize,
}

/// Staging files that exist (being filled, or finished and not yet moved or dropped).
static STAGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many staging files exist now. Each may grow to about two packs (a pack is closed once it
/// reaches its size, after the blob that took it there); its first pack's worth is allocated
/// when it is made ([`crate::direct_write::DirectWriter::reserve`]), so a caller counting two
/// packs a file against the free space counts that part twice, which errs on the safe side.
pub fn staged_packs() -> usize {
    STAGED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Bytes free to this user on the file system of `dir`; `None` where that cannot be told.
pub fn free_space(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

impl StagedPack {
    /// The file's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Renames the file to `path` (which must not exist, on the same file system; across file
    /// systems it is copied) and fsyncs it there. On failure the file stays where it was (and
    /// `path` does not exist), so that the caller may try elsewhere.
    pub fn move_to(mut self, path: &Path) -> std::result::Result<(), (Self, Error)> {
        match self.place(path) {
            Ok(()) => {
                self.file = None;
                self.path = PathBuf::new();
                STAGED.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Waits for the writes still on their way to the file; fails (then and every later time)
    /// if one failed.
    fn complete(&mut self) -> Result<()> {
        if let Some(closing) = self.closing.take() {
            match closing.wait() {
                Ok(file) => self.file = Some(file),
                Err(e) => self.broken = Some(Error::io(&self.path, &e)),
            }
        }
        match &self.broken {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn place(&mut self, path: &Path) -> Result<()> {
        self.complete()?;
        if path.exists() {
            return Err(Error::io(
                path,
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        match std::fs::rename(&self.path, path) {
            Ok(()) => {
                // The descriptor still names the renamed file.
                let synced = match &self.file {
                    Some(f) => f.sync_all(),
                    None => File::open(path).and_then(|f| f.sync_all()),
                };
                synced.map_err(|e| {
                    // Back where it was, so that nothing is left at `path`.
                    let _ = std::fs::rename(path, &self.path);
                    Error::io(path, &e)
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                let data = std::fs::read(&self.path).map_err(|e| Error::io(&self.path, &e))?;
                crate::pack_bytes::write_new(path, &data)?;
                // The copy is durable: the staging file goes.
                let _ = std::fs::remove_file(&self.path);
                Ok(())
            }
            Err(e) => Err(Error::io(path, &e)),
        }
    }

    /// Reads the whole file, then removes it.
    pub fn into_bytes(mut self) -> Result<Vec<u8>> {
        self.complete()?;
        std::fs::read(&self.path).map_err(|e| Error::io(&self.path, &e))
    }
}

impl Drop for StagedPack {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
            STAGED.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Creates `dir` if it is missing, fsyncing its parent so that the new folder's entry is durable
/// before any object is stored in it.
fn ensure_folder(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io(dir, &e)),
    }
    if let Some(parent) = dir.parent() {
        File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(parent, &e))?;
    }
    Ok(())
}

impl PackBuilder {
    /// An empty pack named `id`, built in memory, with room for `capacity` bytes.
    pub fn new(id: ChunkId, capacity: usize) -> Self {
        let mut data = spare_buffer(capacity);
        data.extend_from_slice(MAGIC);
        Self {
            id,
            body: Body::Memory(data),
            len: MAGIC.len(),
            entries: Vec::new(),
        }
    }

    /// An empty pack named `id`, built in a new staging file in folder `dir` (made if missing),
    /// so that its bytes need no memory: only a small write buffer. The file's first `reserve`
    /// bytes are allocated ahead ([`DirectWriter::reserve`]; the pack size, for a backup).
    pub fn staged(id: ChunkId, dir: &Path, reserve: usize) -> Result<Self> {
        ensure_folder(dir)?;
        let path = dir.join(format!(".tmp-{}", crate::restore::hex(&random_id()?[..8])));
        let mut out = DirectWriter::create(&path).map_err(|e| Error::io(&path, &e))?;
        out.reserve(reserve as u64);
        STAGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staged = StagedPack {
            path,
            closing: None,
            file: None,
            broken: None,
            len: 0,
        };
        out.write_all(MAGIC)
            .map_err(|e| Error::io(&staged.path, &e))?;
        Ok(Self {
            id,
            body: Body::File(out, staged),
            len: MAGIC.len(),
            entries: Vec::new(),
        })
    }

    /// Bytes in the pack so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no blob has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Blobs added so far.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.append(piece)?;
        drop(self.take_ready());
        Ok(())
    }

    /// Appends `piece`; a staged pack holds the blocks it fills (see [`PackBuilder::take_ready`]).
    fn append(&mut self, piece: &[u8]) -> Result<()> {
        match &mut self.body {
            Body::Memory(data) => data.extend_from_slice(piece),
            Body::File(out, staged) => {
                out.append(piece).map_err(|e| Error::io(&staged.path, &e))?
            }
        }
        self.len += piece.len();
        Ok(())
    }

    /// The full blocks of a staged pack that [`PackBuilder::push_held`] filled and that are not
    /// yet queued for writing; dropping them queues them.
    pub fn take_ready(&mut self) -> Ready {
        match &mut self.body {
            Body::Memory(_) => Ready::none(),
            Body::File(out, _) => out.take_ready(),
        }
    }

    /// Appends a sealed blob given as pieces; returns its table entry. The caller keeps the pack
    /// below [`MAX_PACK`]. Only a staged pack can fail (its file could not be written).
    pub fn push(
        &mut self,
        obj_type: u8,
        id: &ChunkId,
        plain: u32,
        pieces: &[&[u8]],
    ) -> Result<TocEntry> {
        let e = self.push_held(obj_type, id, plain, pieces)?;
        drop(self.take_ready());
        Ok(e)
    }

    /// [`PackBuilder::push`], but the full blocks of a staged pack are held until
    /// [`PackBuilder::take_ready`]: a caller that pushes under a lock queues them (which may wait
    /// for the device) after releasing it. They are queued at the latest when the pack is
    /// finished.
    pub fn push_held(
        &mut self,
        obj_type: u8,
        id: &ChunkId,
        plain: u32,
        pieces: &[&[u8]],
    ) -> Result<TocEntry> {
        let offset = self.len;
        for p in pieces {
            self.append(p)?;
        }
        let e = TocEntry {
            obj_type,
            id: *id,
            offset: offset as u32,
            length: (self.len - offset) as u32,
            plain,
        };
        self.entries.push(e);
        Ok(e)
    }

    /// Seals the table and closes the pack (a staged pack's file is written, not yet fsynced).
    pub fn finish(mut self, session: &Session) -> Result<FinishedPack> {
        let toc = codec::compress(codec::Codec::None, &encode_toc(&self.entries))?;
        let sealed = session.seal(TOC_TYPE, &self.id, &toc)?;
        self.write(&sealed)?;
        self.write(&(sealed.len() as u32).to_le_bytes())?;
        self.write(END_MAGIC)?;
        if self.len > MAX_PACK {
            return Err(Error::new(ErrorKind::TooLarge, "pack exceeds 4 GiB"));
        }
        let (data, file) = match self.body {
            Body::Memory(data) => (data, None),
            Body::File(out, mut staged) => {
                let closing = out.close().map_err(|e| Error::io(&staged.path, &e))?;
                staged.closing = Some(Box::new(closing));
                staged.len = self.len;
                (Vec::new(), Some(staged))
            }
        };
        Ok(FinishedPack {
            id: self.id,
            data,
            file,
            entries: self.entries,
        })
    }
}
