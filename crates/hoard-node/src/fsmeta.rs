//! File metadata Node lacks or reads lossily (Linux): a directory's entries with their `lstat`
//! fields, xattrs, ACLs and flags in one call; restoring them; making special files, symlinks,
//! hard links and directories strictly beneath an extraction root.
//!
//! Paths are strings or, for names that are not UTF-8, Buffers of their bytes. Times are
//! nanoseconds since the epoch as BigInts.

use std::os::fd::AsFd;

use hoard_core::fsmeta::{self, ItemMeta, Meta, Mode, ScanEntry, SpecialKind};
use napi::bindgen_prelude::{
    BigInt, BigInt64Array, Buffer, Either, Float64Array, Object, Uint32Array, i64n,
};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{invalid, whole};
use crate::task::{WALK, queued_promise, spawn_promise};

/// A path from JavaScript (a string, or a Buffer of its raw bytes) as bytes.
pub(crate) fn path_bytes(p: Either<String, Buffer>) -> Vec<u8> {
    match p {
        Either::A(s) => s.into_bytes(),
        Either::B(b) => b.to_vec(),
    }
}

/// A path from JavaScript as a file system path: a Buffer's bytes need not be UTF-8.
pub(crate) fn os_path(p: Either<String, Buffer>) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStringExt;
    std::path::PathBuf::from(std::ffi::OsString::from_vec(path_bytes(p)))
}

/// What `scanDirectories` and `lstatPath` read besides the `lstat` fields (all off by default).
#[napi(object)]
pub struct ScanOptions {
    /// Extended attributes (all but the two POSIX ACL ones).
    pub xattrs: Option<bool>,
    /// The raw `system.posix_acl_access` / `system.posix_acl_default` values.
    pub acls: Option<bool>,
    /// Linux inode flags (`FS_IOC_GETFLAGS`) of regular files and directories.
    pub flags: Option<bool>,
    /// The access time.
    pub atime: Option<bool>,
    /// The birth time, where the file system records one.
    pub birthtime: Option<bool>,
    /// `scanDirectories` only: leave the flags, xattrs and ACLs of regular files with one link to
    /// `Writer.storeFiles`, which reads them through the descriptor it reads the file with (such
    /// entries are marked `deferred`).
    pub defer_files: Option<bool>,
}

pub(crate) fn scan_options(o: Option<ScanOptions>) -> fsmeta::ScanOptions {
    let o = o.unwrap_or(ScanOptions {
        xattrs: None,
        acls: None,
        flags: None,
        atime: None,
        birthtime: None,
        defer_files: None,
    });
    fsmeta::ScanOptions {
        xattrs: o.xattrs.unwrap_or(false),
        acls: o.acls.unwrap_or(false),
        flags: o.flags.unwrap_or(false),
        atime: o.atime.unwrap_or(false),
        birthtime: o.birthtime.unwrap_or(false),
        defer_files: o.defer_files.unwrap_or(false),
    }
}

/// One extended attribute.
#[napi(object)]
pub struct Xattr {
    /// The full name with its namespace, e.g. `user.comment`.
    pub name: Buffer,
    /// The value.
    pub value: Buffer,
}

/// Something about an entry that could not be read, with its stable code.
#[napi(object)]
pub struct FsWarning {
    /// The stable code, e.g. `HOARD_PERMISSION_DENIED`.
    pub code: String,
    /// The message, naming the path.
    pub message: String,
}

/// One path's metadata (`lstatPath`; `scanEntries` in src/native.ts unpacks a `ScanResult` into
/// these). When it could not be read at all, `errorCode` and `errorMessage` are set and the
/// numbers are 0.
#[napi(object, object_from_js = false)]
pub struct FsEntry {
    /// The entry's name (for `lstatPath`, the path as given).
    pub name: Buffer,
    /// The full `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Inode number.
    pub ino: u64,
    /// The device holding the entry (`st_dev`).
    pub dev: f64,
    /// Hard links.
    pub nlink: f64,
    /// Size in bytes.
    pub size: f64,
    /// The device a special file stands for (`st_rdev`).
    pub rdev: f64,
    /// 512-byte blocks allocated (fewer than the size needs: the file has holes).
    pub blocks: f64,
    /// Access time in ns since the epoch, when asked for.
    pub atime_ns: Option<i64n>,
    /// Modification time in ns since the epoch.
    pub mtime_ns: i64n,
    /// Status change time in ns since the epoch.
    pub ctime_ns: i64n,
    /// Birth time in ns since the epoch, when asked for and recorded.
    pub birthtime_ns: Option<i64n>,
    /// Extended attributes other than the ACLs, when asked for and present.
    pub xattrs: Option<Vec<Xattr>>,
    /// The raw `system.posix_acl_access` value, when asked for and present.
    pub acl_access: Option<Buffer>,
    /// The raw `system.posix_acl_default` value, when asked for and present.
    pub acl_default: Option<Buffer>,
    /// Linux inode flags (`FS_*_FL`), when asked for and the file system has them.
    pub flags: Option<u32>,
    /// A symlink's target.
    pub link_target: Option<Buffer>,
    /// True where the flags, xattrs and ACLs were left to `Writer.storeFiles`
    /// (`ScanOptions.deferFiles`).
    pub deferred: Option<bool>,
    /// What could not be read (an xattr, the flags) though the rest was.
    pub warnings: Option<Vec<FsWarning>>,
    /// The stable code when the entry could not be read (vanished, refused).
    pub error_code: Option<String>,
    /// The message when the entry could not be read.
    pub error_message: Option<String>,
}

/// Warnings as JavaScript receives them; none is `None`.
pub(crate) fn fs_warnings(warnings: Vec<hoard_core::Error>) -> Option<Vec<FsWarning>> {
    (!warnings.is_empty()).then(|| {
        warnings
            .into_iter()
            .map(|w| FsWarning {
                code: w.kind.code().to_string(),
                message: w.message,
            })
            .collect()
    })
}

/// Xattrs as JavaScript receives them; none is `None`.
pub(crate) fn js_xattrs(xattrs: Vec<fsmeta::Xattr>) -> Option<Vec<Xattr>> {
    (!xattrs.is_empty()).then(|| {
        xattrs
            .into_iter()
            .map(|x| Xattr {
                name: Buffer::from(x.name),
                value: Buffer::from(x.value),
            })
            .collect()
    })
}

fn fs_entry(name: Vec<u8>, meta: hoard_core::Result<Meta>) -> FsEntry {
    let m = match meta {
        Ok(m) => m,
        Err(e) => {
            return FsEntry {
                error_code: Some(e.kind.code().to_string()),
                error_message: Some(e.message),
                ..fs_entry(name, Ok(Meta::default()))
            };
        }
    };
    let buf = |v: Option<Vec<u8>>| v.map(Buffer::from);
    FsEntry {
        name: Buffer::from(name),
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        ino: m.ino,
        // Device numbers are at most 44 bits and sizes, links and blocks far below 2^53.
        dev: m.dev as f64,
        nlink: m.nlink as f64,
        size: m.size as f64,
        rdev: m.rdev as f64,
        blocks: m.blocks as f64,
        atime_ns: m.atime_ns.map(i64n),
        mtime_ns: i64n(m.mtime_ns),
        ctime_ns: i64n(m.ctime_ns),
        birthtime_ns: m.birthtime_ns.map(i64n),
        xattrs: js_xattrs(m.xattrs),
        acl_access: buf(m.acl_access),
        acl_default: buf(m.acl_default),
        flags: m.flags,
        link_target: buf(m.link_target),
        deferred: m.deferred.then_some(true),
        warnings: fs_warnings(m.warnings),
        error_code: None,
        error_message: None,
    }
}

/// Fields of each entry in [`ScanResult::stats`], in this order: mode, uid, gid, dev, nlink,
/// size, rdev, blocks, flags, deferred.
const STAT_FIELDS: usize = 10;
/// Fields of each entry in [`ScanResult::wide`], in this order: ino, atimeNs, mtimeNs, ctimeNs,
/// birthtimeNs.
const WIDE_FIELDS: usize = 5;
/// `wide`'s value for a time that was not asked for or is not recorded.
const NO_TIME: i64 = i64::MIN;

/// Extra details of one entry of a [`ScanResult`], for the entries that have any.
#[napi(object, object_from_js = false)]
pub struct ScanExtra {
    /// The entry's index.
    pub index: u32,
    /// A symlink's target.
    pub link_target: Option<Buffer>,
    /// Extended attributes other than the ACLs, when asked for and present.
    pub xattrs: Option<Vec<Xattr>>,
    /// The raw `system.posix_acl_access` value, when asked for and present.
    pub acl_access: Option<Buffer>,
    /// The raw `system.posix_acl_default` value, when asked for and present.
    pub acl_default: Option<Buffer>,
    /// What could not be read (an xattr, the flags) though the rest was.
    pub warnings: Option<Vec<FsWarning>>,
    /// The stable code when the entry could not be read at all (its numbers are then 0).
    pub error_code: Option<String>,
    /// The message when the entry could not be read at all.
    pub error_message: Option<String>,
}

/// A directory's entries, packed in columns so that a directory of any size crosses the boundary
/// as a handful of values (objects per entry cost more than the system calls). Entry `i`:
/// - name: `names.subarray(i ? nameEnds[i - 1] : 0, nameEnds[i])`;
/// - `stats[10 * i + k]`, k = 0..9: mode (full `st_mode`), uid, gid, dev, nlink, size, rdev,
///   blocks (512-byte), flags (Linux `FS_*_FL`; 0 when not asked for or not a regular file or
///   directory), deferred (1 where the flags, xattrs and ACLs were left to `Writer.storeFiles`:
///   `ScanOptions.deferFiles`, else 0);
/// - `wide[5 * i + k]`, k = 0..4: ino (its 64 bits; `BigInt.asUintN(64, ·)`), atimeNs, mtimeNs,
///   ctimeNs, birthtimeNs, in ns since the epoch; `-(2n ** 63n)` where a time was not asked for
///   or is not recorded;
/// - `extras`: in index order, one object for each entry that has a symlink target, xattrs,
///   ACLs, warnings or an error.
#[napi(object, object_from_js = false)]
pub struct ScanResult {
    /// Entries.
    pub count: u32,
    /// The names' bytes, one after another, in entry order (sorted by bytes).
    pub names: Buffer,
    /// Where each name ends in `names`.
    pub name_ends: Uint32Array,
    /// Ten numbers per entry (see above).
    pub stats: Float64Array,
    /// Five 64-bit numbers per entry (see above).
    pub wide: BigInt64Array,
    /// Details of the entries that have any.
    pub extras: Vec<ScanExtra>,
}

/// [`ScanResult`]'s contents, built on a worker; only `extras` becomes JS objects one by one.
struct Packed {
    names: Vec<u8>,
    name_ends: Vec<u32>,
    stats: Vec<f64>,
    wide: Vec<i64>,
    extras: Vec<(u32, Meta, Option<hoard_core::Error>)>,
}

impl Packed {
    fn with_capacity(n: usize) -> Self {
        Self {
            names: Vec::with_capacity(n * 16),
            name_ends: Vec::with_capacity(n),
            stats: Vec::with_capacity(n * STAT_FIELDS),
            wide: Vec::with_capacity(n * WIDE_FIELDS),
            extras: Vec::new(),
        }
    }
}

/// Appends `entries` to `p`, numbered on from the entries already there.
fn pack_into(p: &mut Packed, entries: Vec<ScanEntry>) -> hoard_core::Result<()> {
    let first = p.name_ends.len();
    for (i, e) in entries.into_iter().enumerate() {
        let index = u32::try_from(first + i)
            .map_err(|_| hoard_core::Error::invalid("a scan with over 2^32 entries"))?;
        p.names.extend_from_slice(&e.name);
        let end = u32::try_from(p.names.len())
            .map_err(|_| hoard_core::Error::invalid("a scan's names exceed 4 GiB"))?;
        p.name_ends.push(end);
        let (m, err) = match e.meta {
            Ok(m) => (m, None),
            Err(err) => (Meta::default(), Some(err)),
        };
        // Device numbers are at most 44 bits and sizes, links and blocks far below 2^53.
        p.stats.extend_from_slice(&[
            f64::from(m.mode),
            f64::from(m.uid),
            f64::from(m.gid),
            m.dev as f64,
            m.nlink as f64,
            m.size as f64,
            m.rdev as f64,
            m.blocks as f64,
            f64::from(m.flags.unwrap_or(0)),
            f64::from(u8::from(m.deferred)),
        ]);
        p.wide.extend_from_slice(&[
            i64::from_ne_bytes(m.ino.to_ne_bytes()),
            m.atime_ns.unwrap_or(NO_TIME),
            m.mtime_ns,
            m.ctime_ns,
            m.birthtime_ns.unwrap_or(NO_TIME),
        ]);
        let extra = err.is_some()
            || m.link_target.is_some()
            || !m.xattrs.is_empty()
            || m.acl_access.is_some()
            || m.acl_default.is_some()
            || !m.warnings.is_empty();
        if extra {
            p.extras.push((index, m, err));
        }
    }
    Ok(())
}

fn scan_extra(index: u32, m: Meta, err: Option<hoard_core::Error>) -> ScanExtra {
    let e = fs_entry(Vec::new(), Ok(m));
    ScanExtra {
        index,
        link_target: e.link_target,
        xattrs: e.xattrs,
        acl_access: e.acl_access,
        acl_default: e.acl_default,
        warnings: e.warnings,
        error_code: err.as_ref().map(|e| e.kind.code().to_string()),
        error_message: err.map(|e| e.message),
    }
}

/// A directory of a `scanDirectories` batch that could not be opened or listed (it vanished, is
/// refused, is no longer a directory): it has no entries.
#[napi(object, object_from_js = false)]
pub struct ScanDirError {
    /// The directory's index in the batch.
    pub index: u32,
    /// The stable code, e.g. `HOARD_NOT_FOUND`.
    pub code: String,
    /// The message, naming the directory.
    pub message: String,
}

/// Several directories' entries, packed as one [`ScanResult`] (entries numbered through the whole
/// batch, directory after directory) with where each directory's entries end.
#[napi(object, object_from_js = false)]
pub struct ScanBatch {
    /// The directories scanned: the first `dirs` of those asked for (the rest are to be asked
    /// again: the batch stopped at its entry budget).
    pub dirs: u32,
    /// Where each scanned directory's entries end: directory `d` has entries
    /// `dirEnds[d - 1] .. dirEnds[d]` (from 0 for the first).
    pub dir_ends: Uint32Array,
    /// The scanned directories that could not be read, in index order.
    pub errors: Vec<ScanDirError>,
    /// The entries of all scanned directories, laid out as [`ScanResult`]'s.
    pub entries: ScanResult,
}

/// [`Packed`] entries of several directories, and each directory's end or error.
struct PackedBatch {
    packed: Packed,
    dir_ends: Vec<u32>,
    errors: Vec<(u32, hoard_core::Error)>,
}

fn pack_batch(dirs: Vec<hoard_core::Result<Vec<ScanEntry>>>) -> hoard_core::Result<PackedBatch> {
    let total = dirs.iter().map(|d| d.as_ref().map_or(0, Vec::len)).sum();
    let mut b = PackedBatch {
        packed: Packed::with_capacity(total),
        dir_ends: Vec::with_capacity(dirs.len()),
        errors: Vec::new(),
    };
    for (d, dir) in dirs.into_iter().enumerate() {
        // Batches come from a JS array, so indices fit.
        let index = u32::try_from(d).unwrap_or(u32::MAX);
        match dir {
            Ok(entries) => pack_into(&mut b.packed, entries)?,
            Err(e) => b.errors.push((index, e)),
        }
        let end = u32::try_from(b.packed.name_ends.len())
            .map_err(|_| hoard_core::Error::invalid("a scan with over 2^32 entries"))?;
        b.dir_ends.push(end);
    }
    Ok(b)
}

fn scan_result(p: Packed) -> ScanResult {
    ScanResult {
        count: u32::try_from(p.name_ends.len()).unwrap_or(u32::MAX),
        names: Buffer::from(p.names),
        name_ends: Uint32Array::new(p.name_ends),
        stats: Float64Array::new(p.stats),
        wide: BigInt64Array::new(p.wide),
        extras: p
            .extras
            .into_iter()
            .map(|(i, m, err)| scan_extra(i, m, err))
            .collect(),
    }
}

/// Every entry of each directory in `paths` (not `.` and `..`), sorted by name bytes, with its
/// `lstat` fields and what `options` asks for, read relative to the opened directory; packed
/// (see `ScanResult`). An entry that cannot be read (vanished, refused) carries `errorCode` in
/// `extras`. Several directories go in one call, in order: a walk crosses into Rust once per
/// batch instead of once per directory. Stops after the directory that brings the entries
/// read to `maxEntries` or more (at least one directory is scanned); `dirs` says how many were.
/// A directory that cannot be opened or listed gets its entry in `errors` and no entries; the
/// promise rejects only for a malformed call.
#[napi(ts_return_type = "Promise<ScanBatch>")]
pub fn scan_directories(
    env: &Env,
    paths: Vec<Either<String, Buffer>>,
    options: Option<ScanOptions>,
    max_entries: u32,
) -> Result<Object<'_>> {
    let paths: Vec<Vec<u8>> = paths.into_iter().map(path_bytes).collect();
    let opts = scan_options(options);
    let max = usize::try_from(max_entries).unwrap_or(usize::MAX);
    queued_promise(
        env,
        &WALK,
        move || pack_batch(fsmeta::scan_directories(&paths, &opts, max)),
        |b: PackedBatch| {
            Ok(ScanBatch {
                dirs: u32::try_from(b.dir_ends.len()).unwrap_or(u32::MAX),
                dir_ends: Uint32Array::new(b.dir_ends),
                errors: b
                    .errors
                    .into_iter()
                    .map(|(index, e)| ScanDirError {
                        index,
                        code: e.kind.code().to_string(),
                        message: e.message,
                    })
                    .collect(),
                entries: scan_result(b.packed),
            })
        },
    )
}

/// The same fields for one path (a final symlink is not followed); rejects if it cannot be read.
#[napi(ts_return_type = "Promise<FsEntry>")]
pub fn lstat_path(
    env: &Env,
    path: Either<String, Buffer>,
    options: Option<ScanOptions>,
) -> Result<Object<'_>> {
    let path = path_bytes(path);
    let opts = scan_options(options);
    queued_promise(
        env,
        &WALK,
        move || fsmeta::lstat_path(&path, &opts).map(|m| (path, m)),
        |(path, m)| Ok(fs_entry(path, Ok(m))),
    )
}

/// The metadata to set on one item that exists beneath the root. Absent fields are left alone.
#[napi(object, object_to_js = false)]
pub struct MetadataItem {
    /// The item's path relative to the root.
    pub path: Either<String, Buffer>,
    /// Permission bits (file type bits are ignored); not applied to symlinks.
    pub mode: Option<f64>,
    /// Owner.
    pub uid: Option<f64>,
    /// Group.
    pub gid: Option<f64>,
    /// Access time in ns since the epoch; when absent, `mtimeNs` is used (as borg).
    pub atime_ns: Option<BigInt>,
    /// Modification time in ns since the epoch.
    pub mtime_ns: Option<BigInt>,
    /// Extended attributes to set (not the ACLs).
    pub xattrs: Option<Vec<Xattr>>,
    /// The raw `system.posix_acl_access` value.
    pub acl_access: Option<Buffer>,
    /// The raw `system.posix_acl_default` value.
    pub acl_default: Option<Buffer>,
    /// Linux inode flags (`FS_*_FL`); only the user-modifiable ones are changed. Set last.
    pub flags: Option<f64>,
}

/// A restored regular file's metadata (`MetadataItem` without the path, which the
/// `RestorePiece` carrying it gives). Absent fields are left alone.
#[napi(object, object_to_js = false)]
pub struct FileAttrs {
    /// Permission bits (with set-id and sticky bits; file type bits are ignored).
    pub mode: Option<f64>,
    /// Owner.
    pub uid: Option<f64>,
    /// Group.
    pub gid: Option<f64>,
    /// Access time in ns since the epoch; when absent, `mtimeNs` is used (as borg).
    pub atime_ns: Option<BigInt>,
    /// Modification time in ns since the epoch.
    pub mtime_ns: Option<BigInt>,
    /// Extended attributes to set (not the ACLs).
    pub xattrs: Option<Vec<Xattr>>,
    /// The raw `system.posix_acl_access` value.
    pub acl_access: Option<Buffer>,
    /// The raw `system.posix_acl_default` value.
    pub acl_default: Option<Buffer>,
    /// Linux inode flags (`FS_*_FL`); only the user-modifiable ones are changed. Set last.
    pub flags: Option<f64>,
}

/// One step that failed for one item of `applyMetadata`.
#[napi(object)]
pub struct MetadataWarning {
    /// The item's index in the batch.
    pub index: u32,
    /// The step: `open` (the item was skipped), `chown`, `chmod`, `times`, `acl`, `xattr` or
    /// `flags`.
    pub op: String,
    /// The stable code, e.g. `HOARD_PERMISSION_DENIED`.
    pub code: String,
    /// The message, naming the path.
    pub message: String,
}

/// Nanoseconds from a BigInt, refusing what does not fit an i64.
fn ns(v: Option<BigInt>, what: &str) -> Result<Option<i64>> {
    let Some(v) = v else { return Ok(None) };
    let magnitude = match v.words.as_slice() {
        [] => 0,
        [w] => *w,
        [w, rest @ ..] if rest.iter().all(|&x| x == 0) => *w,
        _ => return Err(invalid(format!("{what} is out of range"))),
    };
    let value = if v.sign_bit {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    value
        .map(Some)
        .ok_or_else(|| invalid(format!("{what} is out of range")))
}

/// The metadata `a` for the item at `path`, its numbers checked.
pub(crate) fn item_meta(path: Vec<u8>, a: FileAttrs) -> Result<ItemMeta> {
    // -1 would mean "leave alone" to lchown, so ids stop below it.
    let id = |v: Option<f64>, what| -> Result<Option<u32>> {
        v.map(|v| whole(v, what, u64::from(u32::MAX - 1)).map(|x| x as u32))
            .transpose()
    };
    Ok(ItemMeta {
        path,
        mode: a
            .mode
            .map(|v| whole(v, "mode", 0o177_777).map(|x| x as u32))
            .transpose()?,
        uid: id(a.uid, "uid")?,
        gid: id(a.gid, "gid")?,
        atime_ns: ns(a.atime_ns, "atimeNs")?,
        mtime_ns: ns(a.mtime_ns, "mtimeNs")?,
        xattrs: a
            .xattrs
            .unwrap_or_default()
            .into_iter()
            .map(|x| fsmeta::Xattr {
                name: x.name.to_vec(),
                value: x.value.to_vec(),
            })
            .collect(),
        acl_access: a.acl_access.map(|b| b.to_vec()),
        acl_default: a.acl_default.map(|b| b.to_vec()),
        flags: a
            .flags
            .map(|v| whole(v, "flags", u64::from(u32::MAX)).map(|x| x as u32))
            .transpose()?,
    })
}

fn metadata_item(item: MetadataItem) -> Result<ItemMeta> {
    let attrs = FileAttrs {
        mode: item.mode,
        uid: item.uid,
        gid: item.gid,
        atime_ns: item.atime_ns,
        mtime_ns: item.mtime_ns,
        xattrs: item.xattrs,
        acl_access: item.acl_access,
        acl_default: item.acl_default,
        flags: item.flags,
    };
    item_meta(path_bytes(item.path), attrs)
}

/// The warning for step `op` of item `index` that failed with `error`.
pub(crate) fn metadata_warning(
    index: usize,
    op: fsmeta::Op,
    error: hoard_core::Error,
) -> MetadataWarning {
    MetadataWarning {
        // Batches come from a JS array, so indices fit.
        index: u32::try_from(index).unwrap_or(u32::MAX),
        op: op.name().to_string(),
        code: error.kind.code().to_string(),
        message: error.message,
    }
}

/// Sets each item's metadata beneath `root`, in borg's order (owner, mode, times, ACLs, xattrs,
/// flags last), never following a symlink. Resolves with what failed, per item and step; rejects
/// only if `root` cannot be opened or an item's numbers are malformed.
#[napi(ts_return_type = "Promise<MetadataWarning[]>")]
pub fn apply_metadata(
    env: &Env,
    root: Either<String, Buffer>,
    items: Vec<MetadataItem>,
) -> Result<Object<'_>> {
    let root = path_bytes(root);
    let items = items
        .into_iter()
        .map(metadata_item)
        .collect::<Result<Vec<_>>>()?;
    spawn_promise(
        env,
        move || {
            let fd = fsmeta::open_root(&root)?;
            Ok(fsmeta::apply_metadata(fd.as_fd(), &items))
        },
        |warnings| {
            Ok(warnings
                .into_iter()
                .map(|w| metadata_warning(w.index, w.op, w.error))
                .collect::<Vec<_>>())
        },
    )
}

/// Makes the special file `rel` beneath `root`: `kind` is `fifo`, `chr`, `blk` or `sock`;
/// `mode`'s permission bits are used (less the umask); `rdev` is the device number of `chr`
/// and `blk` (`st_rdev` as `lstat` gives it).
#[napi(ts_return_type = "Promise<void>")]
pub fn make_special<'e>(
    env: &'e Env,
    root: Either<String, Buffer>,
    rel: Either<String, Buffer>,
    #[napi(ts_arg_type = "'fifo' | 'chr' | 'blk' | 'sock'")] kind: String,
    mode: f64,
    rdev: f64,
) -> Result<Object<'e>> {
    let kind = match kind.as_str() {
        "fifo" => SpecialKind::Fifo,
        "chr" => SpecialKind::Char,
        "blk" => SpecialKind::Block,
        "sock" => SpecialKind::Socket,
        other => return Err(invalid(format!("unknown special file kind {other:?}"))),
    };
    let mode = whole(mode, "mode", 0o177_777)? as u32;
    let rdev = whole(rdev, "rdev", 1 << 53)?;
    let (root, rel) = (path_bytes(root), path_bytes(rel));
    spawn_promise(
        env,
        move || {
            let fd = fsmeta::open_root(&root)?;
            fsmeta::make_special(fd.as_fd(), &rel, kind, mode, rdev)
        },
        Ok,
    )
}

/// Makes symlink `rel` beneath `root` pointing at `target` (stored as given, never followed).
#[napi(ts_return_type = "Promise<void>")]
pub fn make_symlink(
    env: &Env,
    root: Either<String, Buffer>,
    rel: Either<String, Buffer>,
    target: Either<String, Buffer>,
) -> Result<Object<'_>> {
    let (root, rel, target) = (path_bytes(root), path_bytes(rel), path_bytes(target));
    spawn_promise(
        env,
        move || {
            let fd = fsmeta::open_root(&root)?;
            fsmeta::make_symlink(fd.as_fd(), &rel, &target)
        },
        Ok,
    )
}

/// Renames `from` to `to` unless `to` exists: true if renamed, false if the name was taken
/// (exclusive creates on file systems without hard links).
#[napi(ts_return_type = "Promise<boolean>")]
pub fn rename_no_replace(
    env: &Env,
    from: Either<String, Buffer>,
    to: Either<String, Buffer>,
) -> Result<Object<'_>> {
    let (from, to) = (path_bytes(from), path_bytes(to));
    spawn_promise(env, move || fsmeta::rename_no_replace(&from, &to), Ok)
}

/// Swaps `from` and `to` if `to` exists: true if swapped, false if `to` was missing (nothing
/// changed), null where the file system cannot (replacing an object only if it is there).
#[napi(ts_return_type = "Promise<boolean | null>")]
pub fn rename_exchange(
    env: &Env,
    from: Either<String, Buffer>,
    to: Either<String, Buffer>,
) -> Result<Object<'_>> {
    let (from, to) = (path_bytes(from), path_bytes(to));
    spawn_promise(env, move || fsmeta::rename_exchange(&from, &to), Ok)
}

/// Makes `newRel` a hard link to `existingRel`, both beneath `root` (a symlink is linked itself).
#[napi(ts_return_type = "Promise<void>")]
pub fn make_hard_link(
    env: &Env,
    root: Either<String, Buffer>,
    existing_rel: Either<String, Buffer>,
    new_rel: Either<String, Buffer>,
) -> Result<Object<'_>> {
    let (root, existing, new) = (
        path_bytes(root),
        path_bytes(existing_rel),
        path_bytes(new_rel),
    );
    spawn_promise(
        env,
        move || {
            let fd = fsmeta::open_root(&root)?;
            fsmeta::make_hard_link(fd.as_fd(), &existing, &new)
        },
        Ok,
    )
}

/// A path of a batch that failed.
#[napi(object)]
pub struct PathError {
    /// The path's index in the batch.
    pub index: u32,
    /// The stable code: `HOARD_EXISTS` (something else is in the way), `HOARD_PERMISSION_DENIED`
    /// (a symlink on the way), `HOARD_INVALID_ARGUMENT` (`..`, absolute), ...
    pub code: String,
    /// The message, naming the path.
    pub message: String,
}

/// Makes each directory of `rels` beneath `root`, with missing parents (as `mkdir -p`, mode
/// 0777 less the umask); existing directories are kept. Where `replace` has a non-zero byte for a
/// path, a file, symlink or special file in its place is replaced by the directory (an archive's
/// directory item, as borg extracts it). Resolves with the paths that failed.
#[napi(ts_return_type = "Promise<PathError[]>")]
pub fn make_directories(
    env: &Env,
    root: Either<String, Buffer>,
    rels: Vec<Either<String, Buffer>>,
    replace: Option<Buffer>,
) -> Result<Object<'_>> {
    let root = path_bytes(root);
    let rels: Vec<Vec<u8>> = rels.into_iter().map(path_bytes).collect();
    let replace: Vec<bool> = replace.map_or_else(Vec::new, |b| b.iter().map(|&x| x != 0).collect());
    spawn_promise(
        env,
        move || {
            let fd = fsmeta::open_root(&root)?;
            let mode = Mode::from_raw_mode(0o777);
            Ok(rels
                .iter()
                .enumerate()
                .filter_map(|(i, rel)| {
                    let replace = replace.get(i).copied().unwrap_or(false);
                    fsmeta::mkdir_beneath(fd.as_fd(), rel, mode, replace)
                        .err()
                        .map(|e| (i, e))
                })
                .collect::<Vec<_>>())
        },
        |failed| {
            Ok(failed
                .into_iter()
                .map(|(i, e)| PathError {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    code: e.kind.code().to_string(),
                    message: e.message,
                })
                .collect::<Vec<_>>())
        },
    )
}
