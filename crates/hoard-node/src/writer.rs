//! `Writer`: one backup's pipeline (files -> chunks -> packs) as a JS class.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use hoard_core::backup::{
    self, ChangeCheck, FileJob, FileStatus, Staging, StoredFile, WriterConfig,
};
use hoard_core::chunker::ChunkerParams;
use hoard_core::codec::Codec;
use hoard_core::envelope;
use hoard_core::files_cache::FileStat;
use hoard_core::fsmeta::FileMeta;
use hoard_core::index_object::{self, IndexedPack};
use hoard_core::pack::{self, TocEntry};
use hoard_core::pack_bytes;
use hoard_core::pipeline::ChunkSettings;
use hoard_core::{Error, ErrorKind};
use napi::bindgen_prelude::{Buffer, Either, Float64Array, Object, Uint32Array};
use napi::{Env, Result};
use napi_derive::napi;

use crate::chunk_index::ChunkIndex;
use crate::error::{IntoNapi, array32, invalid, obj_type, to_napi, whole};
use crate::files_cache::FilesCache;
use crate::fsmeta::{FsWarning, ScanOptions, Xattr, fs_warnings, js_xattrs, os_path, scan_options};
use crate::key::Key;
use crate::task::{spawn_promise, thread_promise};

/// How a writer cuts, compresses and packs.
#[napi(object)]
pub struct WriterOptions {
    /// A compression spec (`lz4`, `zstd,3`, `auto,zstd,10`, ...).
    pub compression: String,
    /// Chunker parameters in borg's syntax.
    pub chunker_params: String,
    /// A pack is closed once it holds this many bytes (default 8 MiB).
    pub pack_size: Option<f64>,
    /// Finished packs that may wait for `nextPack` before the workers pause (default 1: the
    /// caller keeps two more being written; a waiting pack built in memory holds 8 MiB).
    pub queue: Option<f64>,
    /// A folder on the file system the packs are stored on where packs are built in staging files
    /// instead of in memory (`Storage.stagingFolder`); `writeTo` then renames a pack's file.
    pub staging: Option<Either<String, Buffer>>,
    /// Bytes that must stay free beside the staging files (the repository's headroom and
    /// `additional_free_space`): where less would, a pack is built in memory (default 0).
    pub staging_reserve: Option<f64>,
}

/// What storing one file produced, or why it could not be read.
#[napi(object)]
pub struct StoredFileResult {
    /// Bytes read.
    pub size: f64,
    /// The chunk ids, 32 bytes each, in file order.
    pub ids: Buffer,
    /// The length of each chunk.
    pub sizes: Uint32Array,
    /// Chunks this file added to the repository.
    pub new_chunks: u32,
    /// Plaintext bytes of those chunks.
    pub new_plain: f64,
    /// Stored bytes of those chunks.
    pub new_stored: f64,
    /// Stored bytes of all its chunks.
    pub stored: f64,
    /// borg's `--list` status: `A` added, `M` modified, `U` unchanged (from the files cache).
    pub status: String,
    /// The stable error code when the file could not be read.
    pub error_code: Option<String>,
    /// The error's message, naming the path.
    pub error_message: Option<String>,
}

/// Numbers per file in [`StoredFiles::numbers`]: size, stored, newChunks, newPlain, newStored,
/// flags.
const STORED_FIELDS: usize = 6;

/// What `storeFiles` produced for a batch, packed in columns so that a batch crosses the boundary
/// as a handful of values, not an object (of a dozen properties, each set through napi) per
/// file. File `i`:
/// - `numbers[6 * i + k]`, k = 0..5: bytes read (`size`), stored bytes of all its chunks
///   (`stored`), chunks it added (`newChunks`), their plaintext bytes (`newPlain`), their stored
///   bytes (`newStored`), its inode flags (where its metadata was read and the file system has
///   them, else -1);
/// - `status[i]`: borg's `--list` letter, `A`, `M` or `U`, or `E` where it could not be read;
/// - `chunkCounts[i]`: its number of chunks; its ids are the next `32 * chunkCounts[i]` bytes of
///   `ids` and its chunk lengths the next `chunkCounts[i]` numbers of `sizes`;
/// - `extras`: in index order, one object for each file that has an error, xattrs, ACLs or
///   metadata warnings.
#[napi(object, object_from_js = false)]
pub struct StoredFiles {
    /// Files.
    pub count: u32,
    /// Six numbers per file (see above).
    pub numbers: Float64Array,
    /// One status letter per file.
    pub status: Buffer,
    /// Chunks per file.
    pub chunk_counts: Uint32Array,
    /// Every file's chunk ids, 32 bytes each, file after file.
    pub ids: Buffer,
    /// Every file's chunk lengths, file after file.
    pub sizes: Uint32Array,
    /// Details of the files that have any.
    pub extras: Vec<StoredExtra>,
}

/// Details of one file of a [`StoredFiles`], for the files that have any.
#[napi(object, object_from_js = false)]
pub struct StoredExtra {
    /// The file's index in the batch.
    pub index: u32,
    /// The stable error code when the file could not be read.
    pub error_code: Option<String>,
    /// The error's message, naming the path.
    pub error_message: Option<String>,
    /// Extended attributes other than the ACLs, when read and present.
    pub xattrs: Option<Vec<Xattr>>,
    /// The raw `system.posix_acl_access` value, when read and present.
    pub acl_access: Option<Buffer>,
    /// The raw `system.posix_acl_default` value, when read and present.
    pub acl_default: Option<Buffer>,
    /// What could not be read of the flags, xattrs and ACLs (the file itself was).
    pub meta_warnings: Option<Vec<FsWarning>>,
}

/// [`StoredFiles`]' columns, built on the pool; only `extras` become objects one by one.
struct PackedFiles {
    numbers: Vec<f64>,
    status: Vec<u8>,
    chunk_counts: Vec<u32>,
    ids: Vec<u8>,
    sizes: Vec<u32>,
    extras: Vec<(u32, Option<hoard_core::Error>, Option<FileMeta>)>,
}

fn pack_files(results: Vec<hoard_core::Result<StoredFile>>) -> PackedFiles {
    let n = results.len();
    let mut p = PackedFiles {
        numbers: Vec::with_capacity(n * STORED_FIELDS),
        status: Vec::with_capacity(n),
        chunk_counts: Vec::with_capacity(n),
        ids: Vec::new(),
        sizes: Vec::new(),
        extras: Vec::new(),
    };
    for (i, r) in results.into_iter().enumerate() {
        // A batch holds far fewer than 2^32 files (the caller sends hundreds).
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        match r {
            Ok(mut f) => {
                let meta = f.meta.take();
                let flags = meta.as_ref().and_then(|m| m.flags).map_or(-1.0, f64::from);
                p.numbers.extend_from_slice(&[
                    f.size as f64,
                    f.stored as f64,
                    f64::from(f.new_chunks),
                    f.new_plain as f64,
                    f.new_stored as f64,
                    flags,
                ]);
                p.status.push(match f.status {
                    FileStatus::Added => b'A',
                    FileStatus::Modified => b'M',
                    FileStatus::Unchanged => b'U',
                    FileStatus::Changed => b'C',
                });
                p.chunk_counts
                    .push(u32::try_from(f.ids.len()).unwrap_or(u32::MAX));
                for id in &f.ids {
                    p.ids.extend_from_slice(id);
                }
                p.sizes.extend_from_slice(&f.sizes);
                if let Some(m) = meta
                    && (!m.xattrs.is_empty()
                        || m.acl_access.is_some()
                        || m.acl_default.is_some()
                        || !m.warnings.is_empty())
                {
                    p.extras.push((index, None, Some(m)));
                }
            }
            Err(e) => {
                p.numbers
                    .extend_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.0, -1.0]);
                p.status.push(b'E');
                p.chunk_counts.push(0);
                p.extras.push((index, Some(e), None));
            }
        }
    }
    p
}

fn stored_extra(index: u32, err: Option<hoard_core::Error>, meta: Option<FileMeta>) -> StoredExtra {
    let m = meta.unwrap_or_default();
    StoredExtra {
        index,
        error_code: err.as_ref().map(|e| e.kind.code().to_string()),
        error_message: err.map(|e| e.message),
        xattrs: js_xattrs(m.xattrs),
        acl_access: m.acl_access.map(Buffer::from),
        acl_default: m.acl_default.map(Buffer::from),
        meta_warnings: fs_warnings(m.warnings),
    }
}

/// A finished pack, to be stored under `packs/`. Its bytes stay in native memory (`bytes`).
#[napi(object, object_from_js = false)]
pub struct PackOut {
    /// The pack id (its name, in hex).
    pub id: Buffer,
    /// The pack's size in bytes.
    pub size: f64,
    /// The pack's bytes, to be written to a file or taken once.
    pub bytes: PackBytes,
    /// Its table of contents (entries as in an index object), for `sealIndexObject`.
    pub toc: Buffer,
}

/// A finished pack's bytes, held in native memory (or in the pack's staging file) until they are
/// written to a file or taken; afterwards the handle is empty. Not constructible from JavaScript.
#[napi]
pub struct PackBytes {
    inner: Arc<pack_bytes::PackBytes>,
}

#[napi]
impl PackBytes {
    /// Puts the bytes in a new file at `path` (mode 0600; an existing file is an error) and
    /// fsyncs it, on a thread of its own: a staged pack's file is renamed there, a pack in memory
    /// is written and its bytes freed. If that fails, nothing is left at `path` and the bytes are
    /// still held.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write_to<'e>(&self, env: &'e Env, path: Either<String, Buffer>) -> Result<Object<'e>> {
        let held = Arc::clone(&self.inner);
        let path = os_path(path);
        // Not on the pool: its workers may all be waiting for the caller to take packs.
        thread_promise(env, move || held.write_to(&path), |()| Ok(()))
    }

    /// The bytes as a Buffer (for a backend that sends them elsewhere); the handle is empty
    /// afterwards.
    #[napi]
    pub fn take(&self) -> Result<Buffer> {
        Ok(Buffer::from(self.inner.take().napi()?))
    }

    /// Whether the bytes are still held (neither taken, written nor being written).
    #[napi(getter)]
    pub fn held(&self) -> bool {
        self.inner.is_held()
    }
}

/// A pack as an index object will list it.
#[napi(object)]
pub struct PackToc {
    /// The pack id.
    pub id: Buffer,
    /// The `toc` of the `PackOut`.
    pub toc: Buffer,
}

/// A sealed object and its id.
#[napi(object)]
pub struct SealedObject {
    /// The object's id.
    pub id: Buffer,
    /// The sealed bytes.
    pub data: Buffer,
}

/// What a writer added so far.
#[napi(object)]
pub struct WriterTotals {
    /// Blobs added.
    pub blobs: f64,
    /// Their plaintext bytes.
    pub plain: f64,
    /// Their stored bytes.
    pub stored: f64,
    /// Packs finished.
    pub packs: f64,
}

/// Ids of stored objects, and which of them were new.
#[napi(object)]
pub struct StoredObjects {
    /// The ids, 32 bytes each, in order.
    pub ids: Buffer,
    /// 1 where the object was new.
    pub added: Buffer,
}

pub(crate) fn result_of(r: hoard_core::Result<StoredFile>) -> StoredFileResult {
    match r {
        Ok(f) => stored_result(f),
        Err(e) => StoredFileResult {
            size: 0.0,
            ids: Buffer::from(Vec::new()),
            sizes: Uint32Array::new(Vec::new()),
            new_chunks: 0,
            new_plain: 0.0,
            new_stored: 0.0,
            stored: 0.0,
            status: "E".to_string(),
            error_code: Some(e.kind.code().to_string()),
            error_message: Some(e.message),
        },
    }
}

/// A stored file's result, without its metadata.
fn stored_result(f: StoredFile) -> StoredFileResult {
    StoredFileResult {
        size: f.size as f64,
        ids: Buffer::from(f.ids.concat()),
        sizes: Uint32Array::new(f.sizes),
        new_chunks: f.new_chunks,
        new_plain: f.new_plain as f64,
        new_stored: f.new_stored as f64,
        stored: f.stored as f64,
        status: match f.status {
            FileStatus::Added => "A",
            FileStatus::Modified => "M",
            FileStatus::Unchanged => "U",
            FileStatus::Changed => "C",
        }
        .to_string(),
        error_code: None,
        error_message: None,
    }
}

fn toc_bytes(entries: &[TocEntry]) -> Vec<u8> {
    // The table's version byte is not part of the entries.
    pack::encode_toc(entries).split_off(1)
}

/// One backup's pipeline: reads files, stores their new chunks in packs, and hands finished packs
/// to the caller through `nextPack`, which the caller stores while the workers go on.
#[napi]
pub struct Writer {
    pub(crate) inner: Arc<backup::Writer>,
}

#[napi]
impl Writer {
    /// A writer sealing with a new session of `key`, deduplicating against `index`, and taking
    /// unchanged files from `filesCache` where given.
    #[napi(constructor)]
    pub fn new(
        key: &Key,
        index: &ChunkIndex,
        options: WriterOptions,
        files_cache: Option<&FilesCache>,
    ) -> Result<Self> {
        let params: ChunkerParams = options.chunker_params.parse().napi()?;
        let codec: Codec = options.compression.parse().napi()?;
        let pack_size = match options.pack_size {
            Some(v) => whole(v, "pack size", 1 << 31)? as usize,
            None => 8 << 20,
        };
        let queue = match options.queue {
            Some(v) => whole(v, "queue", 64)? as usize,
            None => 1,
        };
        let k = &key.inner;
        let session = envelope::Session::new(k.suite, &k.encryption).napi()?;
        let config = WriterConfig {
            chunking: ChunkSettings {
                params,
                seed: k.chunker_seed,
                ids: k.ids.clone(),
            },
            codec,
            pack_size: pack_size.max(1),
            queue,
            staging: match options.staging {
                Some(dir) => Some(Staging {
                    dir: os_path(dir),
                    reserve: whole(
                        options.staging_reserve.unwrap_or(0.0),
                        "staging reserve",
                        1 << 53,
                    )?,
                }),
                None => None,
            },
        };
        Ok(Self {
            inner: Arc::new(backup::Writer::new(
                config,
                session,
                Arc::clone(&index.inner),
                files_cache.map(|f| Arc::clone(&f.inner)),
            )),
        })
    }

    /// Reads and stores files in parallel. A path is a string or, for names that are not UTF-8,
    /// a Buffer of its bytes. `stats` (optional) holds 32 bytes per file as the walk saw it:
    /// inode, size, mtime ns and ctime ns, each 64-bit little endian; with it, unchanged files
    /// come from the files cache. A file that cannot be read gets status `E` and an error code; the
    /// batch goes on. The results come packed (`StoredFiles`; `storedFiles` in src/native.ts
    /// unpacks them).
    /// Where `metaFor` (one byte per path) holds 1, the file's flags, xattrs and ACLs are read
    /// too, as `meta` asks (for the entries `scanDirectories` marked `deferred`): through the
    /// descriptor the file is read with, or for an unchanged file through one opened for them.
    /// `filesChanged` (borg's `create --files-changed`: `ctime`, the default, `mtime` or
    /// `disabled`) names the time that, seen again through the descriptor once the file is read
    /// and unequal to `stats`', gives it status `C`: changed while it was backed up.
    #[napi(ts_return_type = "Promise<StoredFiles>")]
    pub fn store_files<'e>(
        &self,
        env: &'e Env,
        paths: Vec<Either<String, Buffer>>,
        stats: Option<Buffer>,
        meta: Option<ScanOptions>,
        meta_for: Option<Buffer>,
        files_changed: Option<String>,
    ) -> Result<Object<'e>> {
        let changed = match files_changed.as_deref() {
            None | Some("ctime") => ChangeCheck::Ctime,
            Some("mtime") => ChangeCheck::Mtime,
            Some("disabled") => ChangeCheck::Disabled,
            Some(other) => {
                return Err(invalid(format!(
                    "filesChanged must be ctime, mtime or disabled, not {other:?}"
                )));
            }
        };
        if let Some(m) = &meta_for
            && m.len() != paths.len()
        {
            return Err(invalid(format!(
                "metaFor must hold 1 byte per path: {} bytes for {} paths",
                m.len(),
                paths.len()
            )));
        }
        let meta = meta.map(|o| scan_options(Some(o)));
        if let Some(s) = &stats
            && s.len() != paths.len() * 32
        {
            return Err(invalid(format!(
                "stats must hold 32 bytes per path: {} bytes for {} paths",
                s.len(),
                paths.len()
            )));
        }
        let field = |s: &[u8], i: usize, k: usize| -> u64 {
            let at = i * 32 + k * 8;
            let mut b = [0u8; 8];
            b.copy_from_slice(&s[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let jobs: Vec<FileJob> = paths
            .into_iter()
            .enumerate()
            .map(|(i, p)| FileJob {
                path: match p {
                    Either::A(s) => PathBuf::from(s),
                    Either::B(b) => PathBuf::from(std::ffi::OsStr::from_bytes(&b)),
                },
                stat: stats.as_ref().map(|s| FileStat {
                    inode: field(s, i, 0),
                    size: field(s, i, 1),
                    mtime: field(s, i, 2) as i64,
                    ctime: field(s, i, 3) as i64,
                }),
                meta: match (&meta, &meta_for) {
                    (Some(o), Some(m)) if m.get(i).copied().unwrap_or(0) != 0 => Some(*o),
                    _ => None,
                },
                changed,
            })
            .collect();
        let w = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || Ok(pack_files(w.store_jobs(&jobs))),
            |p: PackedFiles| {
                Ok(StoredFiles {
                    count: u32::try_from(p.status.len()).unwrap_or(u32::MAX),
                    numbers: Float64Array::new(p.numbers),
                    status: Buffer::from(p.status),
                    chunk_counts: Uint32Array::new(p.chunk_counts),
                    ids: Buffer::from(p.ids),
                    sizes: Uint32Array::new(p.sizes),
                    extras: p
                        .extras
                        .into_iter()
                        .map(|(i, e, m)| stored_extra(i, e, m))
                        .collect(),
                })
            },
        )
    }

    /// Reads file descriptor `fd` (e.g. 0, standard input) to its end and stores it.
    #[napi(ts_return_type = "Promise<StoredFileResult>")]
    pub fn store_fd<'e>(&self, env: &'e Env, fd: f64, name: String) -> Result<Object<'e>> {
        let fd = whole(fd, "file descriptor", i32::MAX as u64)? as i32;
        let w = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || {
                let path = PathBuf::from(name);
                // Reading through /proc/self/fd keeps the caller's descriptor open and avoids
                // taking ownership of it.
                let file = std::fs::File::open(format!("/proc/self/fd/{fd}"))
                    .map_err(|e| Error::io(&path, &e))?;
                Ok(w.store_reader(file, &path))
            },
            |r| Ok(result_of(r)),
        )
    }

    /// Stores metadata objects (trees) of `objType`, each identified by the chunk id of its
    /// bytes, compressed with `compression` (a `--compression` spec; the writer's own when
    /// absent); objects the index has are not stored again.
    #[napi(ts_return_type = "Promise<StoredObjects>")]
    pub fn store_objects<'e>(
        &self,
        env: &'e Env,
        key: &Key,
        type_: f64,
        objects: Vec<Buffer>,
        compression: Option<String>,
    ) -> Result<Object<'e>> {
        let t = obj_type(type_)?;
        let codec: Option<Codec> = compression.map(|c| c.parse()).transpose().napi()?;
        let w = Arc::clone(&self.inner);
        let k = Arc::clone(&key.inner);
        spawn_promise(
            env,
            move || {
                let ids: Vec<[u8; 32]> = objects.iter().map(|o| k.ids.id(o)).collect();
                let pairs: Vec<([u8; 32], &[u8])> = ids
                    .iter()
                    .zip(&objects)
                    .map(|(i, o)| (*i, &o[..]))
                    .collect();
                let added = w.store_objects(t, &pairs, codec)?;
                Ok((ids, added))
            },
            |(ids, added)| {
                Ok(StoredObjects {
                    ids: Buffer::from(ids.concat()),
                    added: Buffer::from(added.into_iter().map(u8::from).collect::<Vec<u8>>()),
                })
            },
        )
    }

    /// Closes the pack being filled, so that `nextPack` hands it over.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let w = Arc::clone(&self.inner);
        spawn_promise(env, move || w.flush(), |()| Ok(()))
    }

    /// The next finished pack, or null once `close` was called and every pack was handed over.
    /// Waits on a thread of its own, so the worker pool stays free.
    #[napi(ts_return_type = "Promise<PackOut | null>")]
    pub fn next_pack<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let (deferred, promise) = env.create_deferred()?;
        let w = Arc::clone(&self.inner);
        std::thread::Builder::new()
            .name("hoard-next-pack".into())
            .spawn(move || match w.next_pack() {
                Ok(p) => deferred.resolve(move |_| Ok(p.map(pack_out))),
                Err(e) => deferred.reject(to_napi(e)),
            })
            .map_err(|e| {
                to_napi(Error::new(
                    ErrorKind::Io,
                    format!("cannot start a thread: {e}"),
                ))
            })?;
        Ok(promise)
    }

    /// Ends the stream of packs (after the last `flush`).
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }

    /// Fails the writer's waiting and later calls with `message` (a pack could not be stored).
    #[napi]
    pub fn abort(&self, message: String) {
        self.inner.abort(Error::new(ErrorKind::Io, message));
    }

    /// What this writer added so far.
    #[napi]
    pub fn totals(&self) -> WriterTotals {
        let t = self.inner.totals();
        WriterTotals {
            blobs: t.blobs as f64,
            plain: t.plain as f64,
            stored: t.stored as f64,
            packs: t.packs as f64,
        }
    }

    /// Seals an index object listing `packs`, with a new random id; a replacing one (its places
    /// win over other copies of its blobs) when `replacing` is true.
    #[napi(ts_return_type = "Promise<SealedObject>")]
    pub fn seal_index_object<'e>(
        &self,
        env: &'e Env,
        key: &Key,
        packs: Vec<PackToc>,
        replacing: Option<bool>,
    ) -> Result<Object<'e>> {
        seal_index_object(env, key, packs, replacing)
    }
}

/// A pack's table entries as `PackToc.toc` carries them (without the table's version byte).
pub(crate) fn toc_entries(toc: &[u8]) -> Result<Vec<TocEntry>> {
    let mut full = Vec::with_capacity(1 + toc.len());
    full.push(1);
    full.extend_from_slice(toc);
    pack::decode_toc(&full, pack::MAX_PACK).napi()
}

/// A finished pack as JavaScript receives it: its bytes stay native.
pub(crate) fn pack_out(p: pack::FinishedPack) -> PackOut {
    PackOut {
        id: Buffer::from(p.id.to_vec()),
        toc: Buffer::from(toc_bytes(&p.entries)),
        size: p.size() as f64,
        bytes: PackBytes {
            inner: Arc::new(match p.file {
                Some(file) => pack_bytes::PackBytes::staged(file),
                None => pack_bytes::PackBytes::new(p.data),
            }),
        },
    }
}

/// Seals an index object listing `packs` (each `toc` as a `PackOut` or an opened index object
/// gives it), with a new random id; a replacing one when `replacing` is true.
#[napi(ts_return_type = "Promise<SealedObject>")]
pub fn seal_index_object<'e>(
    env: &'e Env,
    key: &Key,
    packs: Vec<PackToc>,
    replacing: Option<bool>,
) -> Result<Object<'e>> {
    let replacing = replacing.unwrap_or(false);
    let mut listed = Vec::with_capacity(packs.len());
    for p in &packs {
        listed.push(IndexedPack {
            id: array32(&p.id, "pack id")?,
            entries: toc_entries(&p.toc)?,
        });
    }
    let k = Arc::clone(&key.inner);
    // Not on the pool: its workers may all be waiting for the caller to take packs.
    thread_promise(
        env,
        move || {
            let session = envelope::Session::new(k.suite, &k.encryption)?;
            let id = pack::random_id()?;
            let data = index_object::seal_as(&session, &id, &listed, replacing)?;
            Ok((id, data))
        },
        |(id, data)| {
            Ok(SealedObject {
                id: Buffer::from(id.to_vec()),
                data: Buffer::from(data),
            })
        },
    )
}
