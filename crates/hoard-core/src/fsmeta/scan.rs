//! Reading metadata for `hoard create`: one directory per call ([`scan_directory`]), several
//! ([`scan_directories`]: a bounded batch, so that a walk crosses into Rust once per batch, not
//! once per directory), or one path ([`lstat_path`]).
//!
//! A scan opens the directory once (`O_DIRECTORY | O_NOFOLLOW`) and reads every entry relative to
//! that descriptor: `statx` (or `fstatat` where `statx` is missing) without following symlinks,
//! `readlinkat` for symlink targets, `openat` + `FS_IOC_GETFLAGS` for inode flags. A regular file
//! or directory opened for its flags has its xattrs read through that descriptor too
//! (`flistxattr`, `fgetxattr`): no path to resolve again. The other entries' xattrs (symlinks,
//! special files, what could not be opened, or every entry when flags are not read) are read by
//! path (`lgetxattr` and kin, never following the entry): `<dir>/<name>`, and, should the
//! directory have moved during the scan, `/proc/self/fd/<dir>/<name>`, which still names the
//! opened directory.

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{
    AtFlags, CWD, FileType, Mode, OFlags, RawDir, StatxFlags, ioctl_getflags, openat,
    readlinkat_raw, statat, statx,
};
use rustix::io::Errno;

pub use super::xattr::Xattr;
use super::xattr::{self, ACL_ACCESS, At, Bufs};
use super::{Joined, Shown, os_error, to_ns};
use crate::{Error, ErrorKind, Result};

/// What to read besides the `lstat` fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Extended attributes other than the ACLs.
    pub xattrs: bool,
    /// The raw POSIX ACL xattrs.
    pub acls: bool,
    /// Inode flags (`FS_IOC_GETFLAGS`) of regular files and directories.
    pub flags: bool,
    /// The access time.
    pub atime: bool,
    /// The birth time, where the file system records one.
    pub birthtime: bool,
    /// Leave the flags, xattrs and ACLs of regular files with one link to the caller
    /// ([`Meta::deferred`]), who reads them with [`read_file_meta`] on the descriptor it opens
    /// to read the file anyway: `create` saves an open and a close per file that way. Files with
    /// more links are read here as before (a hard link's later items take their metadata from
    /// the scan). `lstat_path` ignores this.
    pub defer_files: bool,
}

impl ScanOptions {
    /// Whether any of the flags, xattrs or ACLs are asked for.
    fn wants_file_meta(&self) -> bool {
        self.flags || self.xattrs || self.acls
    }
}

/// One file's metadata: the `lstat` fields and what [`ScanOptions`] asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// The full `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Inode number.
    pub ino: u64,
    /// The device holding the file (`makedev(major, minor)`, as `st_dev`).
    pub dev: u64,
    /// Hard links.
    pub nlink: u64,
    /// Size in bytes (a symlink: its target's length).
    pub size: u64,
    /// The device a character or block special file stands for (`st_rdev`).
    pub rdev: u64,
    /// 512-byte blocks allocated: fewer than `size` needs means holes.
    pub blocks: u64,
    /// Access time, ns since the epoch, if asked for.
    pub atime_ns: Option<i64>,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Status change time, ns since the epoch.
    pub ctime_ns: i64,
    /// Birth time, ns since the epoch, if asked for and recorded.
    pub birthtime_ns: Option<i64>,
    /// Extended attributes except the ACLs, in the order the file system lists them.
    pub xattrs: Vec<Xattr>,
    /// The raw `system.posix_acl_access` value, if any.
    pub acl_access: Option<Vec<u8>>,
    /// The raw `system.posix_acl_default` value (directories), if any.
    pub acl_default: Option<Vec<u8>>,
    /// Linux inode flags (`FS_*_FL`), for regular files and directories whose file system has them.
    pub flags: Option<u32>,
    /// A symlink's target.
    pub link_target: Option<Vec<u8>>,
    /// Whether the flags, xattrs and ACLs were left to the caller ([`ScanOptions::defer_files`]):
    /// they are then absent here.
    pub deferred: bool,
    /// What could not be read without making the entry useless (an xattr refused, a flag
    /// ioctl failing): each an error with its stable kind.
    pub warnings: Vec<Error>,
}

/// One entry of a scanned directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEntry {
    /// The name's bytes.
    pub name: Vec<u8>,
    /// Its metadata, or why it could not be read (vanished, refused).
    pub meta: Result<Meta>,
}

/// Set once `statx` answered `ENOSYS` (old kernels, some seccomp filters): `fstatat` from then on.
static NO_STATX: AtomicBool = AtomicBool::new(false);

/// Buffers reused from entry to entry.
struct Scratch {
    bufs: Bufs,
    link: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            bufs: Bufs::new(),
            link: vec![0; 256],
        }
    }
}

/// Metadata of every entry of the directory at `path` (not `.` or `..`), sorted by name bytes.
///
/// `path` itself must be a directory and not a symlink. An entry that cannot be read gets its
/// error in [`ScanEntry::meta`]; only a directory that cannot be opened or listed fails the call.
pub fn scan_directory(path: &[u8], opts: &ScanOptions) -> Result<Vec<ScanEntry>> {
    let dir = openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| open_error(e, path))?;

    let mut names: Vec<CString> = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut raw = RawDir::new(&dir, buf.spare_capacity_mut());
    while let Some(entry) = raw.next() {
        let entry = entry.map_err(|e| os_error(e, Shown(path)))?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    let mut scratch = Scratch::new();
    // Whether each entry still needs its xattrs read by path (not read through a descriptor).
    let mut by_path: Vec<bool> = Vec::with_capacity(names.len());
    let mut out: Vec<ScanEntry> = names
        .into_iter()
        .map(|name| {
            let meta = read_meta(
                dir.as_fd(),
                &name,
                &Joined(path, name.as_bytes()),
                opts,
                &mut scratch,
            );
            by_path.push(matches!(&meta, Ok((_, false))));
            ScanEntry {
                name: name.into_bytes(),
                meta: meta.map(|(m, _)| m),
            }
        })
        .collect();

    if (opts.xattrs || opts.acls) && by_path.contains(&true) {
        // No system call reads xattrs relative to a directory descriptor (before Linux 6.13), so
        // the entries not opened are read by path: the directory's own path, which the kernel
        // resolves faster than /proc/self/fd/<dir>/<name>. Should the directory have been moved
        // meanwhile, they are read again through /proc, which names the opened directory
        // whatever its path now.
        let mut sets = read_all_xattrs(&out, &by_path, path, path, opts, &mut scratch.bufs);
        if moved(path, &dir) {
            let proc_dir = format!("/proc/self/fd/{}", dir.as_raw_fd());
            sets = read_all_xattrs(
                &out,
                &by_path,
                proc_dir.as_bytes(),
                path,
                opts,
                &mut scratch.bufs,
            );
        }
        for (entry, set) in out.iter_mut().zip(sets) {
            if let (Ok(m), Some(set)) = (&mut entry.meta, set) {
                m.xattrs = set.xattrs;
                m.acl_access = set.acl_access;
                m.acl_default = set.acl_default;
                m.warnings.extend(set.warnings);
            }
        }
    }
    Ok(out)
}

/// [`scan_directory`] of each of `paths` in order, each directory's outcome on its own (one that
/// vanished or cannot be read fails alone), stopping after the directory that brings the entries
/// read to `max_entries` or more: at least one directory is scanned, and the caller asks again
/// for the rest. So a batch holds at most `max_entries` entries plus one directory's.
pub fn scan_directories(
    paths: &[Vec<u8>],
    opts: &ScanOptions,
    max_entries: usize,
) -> Vec<Result<Vec<ScanEntry>>> {
    let mut out = Vec::with_capacity(paths.len());
    let mut entries = 0usize;
    for path in paths {
        let dir = scan_directory(path, opts);
        entries += dir.as_ref().map_or(0, Vec::len);
        out.push(dir);
        if entries >= max_entries {
            break;
        }
    }
    out
}

/// Whether `path` no longer names the directory opened as `dir`.
pub(crate) fn moved(path: &[u8], dir: &std::os::fd::OwnedFd) -> bool {
    match (
        rustix::fs::fstat(dir),
        statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW),
    ) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino),
        _ => true,
    }
}

/// The xattrs and ACLs of each readable entry whose `wanted` is set, named `<dir_path>/<name>`;
/// `shown` names the directory in messages.
pub(crate) fn read_all_xattrs(
    entries: &[ScanEntry],
    wanted: &[bool],
    dir_path: &[u8],
    shown: &[u8],
    opts: &ScanOptions,
    bufs: &mut Bufs,
) -> Vec<Option<XattrSet>> {
    let mut xpath = dir_path.to_vec();
    if !xpath.ends_with(b"/") {
        xpath.push(b'/');
    }
    let prefix = xpath.len();
    entries
        .iter()
        .zip(wanted)
        .map(|(e, &wanted)| {
            if !wanted {
                return None;
            }
            e.meta.as_ref().ok()?;
            xpath.truncate(prefix);
            xpath.extend_from_slice(&e.name);
            xpath.push(0);
            let xp = CStr::from_bytes_with_nul(&xpath).ok()?;
            Some(read_xattrs(
                At::Path(xp),
                &Joined(shown, &e.name),
                opts,
                bufs,
            ))
        })
        .collect()
}

/// The same fields as [`scan_directory`] gives each entry, for one path (a final symlink is
/// not followed).
pub fn lstat_path(path: &[u8], opts: &ScanOptions) -> Result<Meta> {
    let c = CString::new(path).map_err(|_| Error::invalid("a path holds a NUL byte"))?;
    let mut scratch = Scratch::new();
    let opts = &ScanOptions {
        defer_files: false,
        ..*opts
    };
    let (mut m, read) = read_meta(CWD, &c, &Shown(path), opts, &mut scratch)?;
    if (opts.xattrs || opts.acls) && !read {
        let set = read_xattrs(At::Path(&c), &Shown(path), opts, &mut scratch.bufs);
        m.xattrs = set.xattrs;
        m.acl_access = set.acl_access;
        m.acl_default = set.acl_default;
        m.warnings.extend(set.warnings);
    }
    Ok(m)
}

/// Opening a directory to scan: a symlink is refused, not followed.
fn open_error(e: Errno, path: &[u8]) -> Error {
    let symlink = || {
        statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
    };
    if matches!(e, Errno::LOOP | Errno::NOTDIR) && symlink() {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{}: is a symlink, not a directory", Shown(path)),
        )
    } else {
        os_error(e, Shown(path))
    }
}

/// Reads entry `name` of `dirfd`; `what` names it in messages. A regular file or directory
/// opened for its flags also has its xattrs read (when asked for) through that descriptor: the
/// second value tells whether they were; if not, the caller reads them by path.
fn read_meta(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    what: &dyn fmt::Display,
    opts: &ScanOptions,
    s: &mut Scratch,
) -> Result<(Meta, bool)> {
    let mut m = stat_entry(dirfd, name, opts).map_err(|e| os_error(e, what))?;
    let kind = FileType::from_raw_mode(m.mode);

    if kind == FileType::Symlink {
        m.link_target = Some(read_link(dirfd, name, &mut s.link).map_err(|e| os_error(e, what))?);
    }
    if opts.defer_files && opts.wants_file_meta() && kind == FileType::RegularFile && m.nlink == 1 {
        // The caller reads them when it opens the file (read_file_meta): nothing by path either.
        m.deferred = true;
        return Ok((m, true));
    }
    let mut xattrs_read = false;
    if opts.flags
        && matches!(kind, FileType::RegularFile | FileType::Directory)
        && let Some(fd) = open_entry(dirfd, name)
    {
        m.flags = read_flags(fd.as_fd(), what, &mut m.warnings);
        if opts.xattrs || opts.acls {
            let set = read_xattrs(At::Fd(fd.as_fd()), what, opts, &mut s.bufs);
            m.xattrs = set.xattrs;
            m.acl_access = set.acl_access;
            m.acl_default = set.acl_default;
            m.warnings.extend(set.warnings);
            xattrs_read = true;
        }
    }
    Ok((m, xattrs_read))
}

/// The `lstat` fields of `name` in `dirfd`, by `statx` or, where it is missing, `fstatat`.
fn stat_entry(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    opts: &ScanOptions,
) -> std::result::Result<Meta, Errno> {
    if !NO_STATX.load(Ordering::Relaxed) {
        let mut mask = StatxFlags::BASIC_STATS;
        if opts.birthtime {
            mask |= StatxFlags::BTIME;
        }
        match statx(dirfd, name, AtFlags::SYMLINK_NOFOLLOW, mask) {
            Ok(x) => {
                let mut warnings = Vec::new();
                let mut ns =
                    |t: rustix::fs::StatxTimestamp| time_ns(t.tv_sec, t.tv_nsec, &mut warnings);
                let atime = ns(x.stx_atime);
                let mtime = ns(x.stx_mtime);
                let ctime = ns(x.stx_ctime);
                let birth = (opts.birthtime && x.stx_mask & StatxFlags::BTIME.bits() != 0)
                    .then(|| ns(x.stx_btime));
                return Ok(Meta {
                    mode: u32::from(x.stx_mode),
                    uid: x.stx_uid,
                    gid: x.stx_gid,
                    ino: x.stx_ino,
                    dev: rustix::fs::makedev(x.stx_dev_major, x.stx_dev_minor),
                    nlink: u64::from(x.stx_nlink),
                    size: x.stx_size,
                    rdev: rustix::fs::makedev(x.stx_rdev_major, x.stx_rdev_minor),
                    blocks: x.stx_blocks,
                    atime_ns: opts.atime.then_some(atime),
                    mtime_ns: mtime,
                    ctime_ns: ctime,
                    birthtime_ns: birth,
                    warnings,
                    ..Meta::default()
                });
            }
            Err(Errno::NOSYS) => NO_STATX.store(true, Ordering::Relaxed),
            Err(e) => return Err(e),
        }
    }
    let st = statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mut warnings = Vec::new();
    let mut ns = |sec: i64, nsec: Option<u32>| time_ns(sec, nsec.unwrap_or(0), &mut warnings);
    // The field types differ between architectures, hence the conversions.
    #[allow(clippy::useless_conversion)]
    let (atime, mtime, ctime) = (
        ns(i64::from(st.st_atime), u32::try_from(st.st_atime_nsec).ok()),
        ns(i64::from(st.st_mtime), u32::try_from(st.st_mtime_nsec).ok()),
        ns(i64::from(st.st_ctime), u32::try_from(st.st_ctime_nsec).ok()),
    );
    #[allow(clippy::useless_conversion)]
    Ok(Meta {
        mode: u32::from(st.st_mode),
        uid: st.st_uid,
        gid: st.st_gid,
        ino: u64::from(st.st_ino),
        dev: u64::from(st.st_dev),
        nlink: u64::from(st.st_nlink),
        size: u64::try_from(st.st_size).unwrap_or(0),
        rdev: u64::from(st.st_rdev),
        blocks: u64::try_from(st.st_blocks).unwrap_or(0),
        atime_ns: opts.atime.then_some(atime),
        mtime_ns: mtime,
        ctime_ns: ctime,
        birthtime_ns: None,
        warnings,
        ..Meta::default()
    })
}

/// Nanoseconds since the epoch; a time past i64's range (after 2262, before 1677) is clamped
/// with a warning.
fn time_ns(sec: i64, nsec: u32, warnings: &mut Vec<Error>) -> i64 {
    to_ns(sec, nsec).unwrap_or_else(|| {
        warnings.push(Error::invalid(format!(
            "a timestamp ({sec} s) is out of range and was clamped"
        )));
        if sec < 0 { i64::MIN } else { i64::MAX }
    })
}

/// A symlink's target, read into `buf` (grown until the target fits).
fn read_link(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    buf: &mut Vec<u8>,
) -> std::result::Result<Vec<u8>, Errno> {
    loop {
        let n = readlinkat_raw(dirfd, name, &mut buf[..])?;
        if n < buf.len() {
            return Ok(buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default());
        }
        // Possibly cut short: try again with more room.
        let len = buf.len() * 2;
        buf.resize(len, 0);
    }
}

/// The flags, xattrs and ACLs of a file whose scan left them to the caller ([`Meta::deferred`]),
/// read as the scan would have read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// Linux inode flags, where asked for and the file system has them.
    pub flags: Option<u32>,
    /// Extended attributes except the ACLs, in the order the file system lists them.
    pub xattrs: Vec<Xattr>,
    /// The raw `system.posix_acl_access` value, if any.
    pub acl_access: Option<Vec<u8>>,
    /// The raw `system.posix_acl_default` value, if any.
    pub acl_default: Option<Vec<u8>>,
    /// What could not be read (an xattr refused, the flag ioctl failing).
    pub warnings: Vec<Error>,
}

/// The flags, xattrs and ACLs `opts` asks for of the regular file at `path`, for a file whose
/// scan deferred them ([`ScanOptions::defer_files`]), read as the scan reads them: through
/// `file` where the caller has it open (to read its contents), else through a descriptor opened
/// here as the scan opens one for the flags (when flags are asked for); where there is no
/// descriptor, no flags, and the xattrs by path. Failures are warnings naming `path`.
pub fn read_file_meta(file: Option<BorrowedFd<'_>>, path: &[u8], opts: &ScanOptions) -> FileMeta {
    let mut out = FileMeta::default();
    let what = Shown(path);
    let opened;
    let fd = match file {
        Some(fd) => Some(fd),
        None if opts.flags => {
            opened = CString::new(path).ok().and_then(|c| open_entry(CWD, &c));
            opened.as_ref().map(AsFd::as_fd)
        }
        None => None,
    };
    if opts.flags
        && let Some(fd) = fd
    {
        out.flags = read_flags(fd, &what, &mut out.warnings);
    }
    if !(opts.xattrs || opts.acls) {
        return out;
    }
    let mut bufs = Bufs::new();
    let set = match (fd, CString::new(path)) {
        (Some(fd), _) => read_xattrs(At::Fd(fd), &what, opts, &mut bufs),
        (None, Ok(c)) => read_xattrs(At::Path(&c), &what, opts, &mut bufs),
        (None, Err(_)) => return out,
    };
    out.xattrs = set.xattrs;
    out.acl_access = set.acl_access;
    out.acl_default = set.acl_default;
    out.warnings.extend(set.warnings);
    out
}

/// One entry's xattrs and ACLs, and what could not be read of them.
#[derive(Default)]
pub(crate) struct XattrSet {
    pub(crate) xattrs: Vec<Xattr>,
    pub(crate) acl_access: Option<Vec<u8>>,
    pub(crate) acl_default: Option<Vec<u8>>,
    pub(crate) warnings: Vec<Error>,
}

/// Reads the xattrs and the ACLs asked for at `xpath`; failures become warnings.
fn read_xattrs(
    xpath: At<'_>,
    what: &dyn fmt::Display,
    opts: &ScanOptions,
    bufs: &mut Bufs,
) -> XattrSet {
    let mut m = XattrSet::default();
    let len = match xattr::list(xpath, bufs) {
        Ok(n) => n,
        Err(e) => {
            m.warnings
                .push(os_error(e, format_args!("{what}: listing xattrs")));
            return m;
        }
    };
    let list = bufs.list.get(..len).unwrap_or_default();
    for name in xattr::names(list) {
        let bytes = name.to_bytes();
        let acl = xattr::is_acl(bytes);
        if (acl && !opts.acls) || (!acl && !opts.xattrs) {
            continue;
        }
        match xattr::get(xpath, name, &mut bufs.value) {
            Ok(Some(value)) if acl => {
                if bytes == ACL_ACCESS {
                    m.acl_access = Some(value);
                } else {
                    m.acl_default = Some(value);
                }
            }
            Ok(Some(value)) => m.xattrs.push(Xattr {
                name: bytes.to_vec(),
                value,
            }),
            Ok(None) => {}
            Err(e) => m
                .warnings
                .push(os_error(e, format_args!("{what}: xattr {}", Shown(bytes)))),
        }
    }
    m
}

/// A regular file or directory of `dirfd` opened to read its flags (and xattrs), or `None` where
/// it cannot be (its flags are then unknown, as borg leaves them; its xattrs are read by path).
fn open_entry(dirfd: BorrowedFd<'_>, name: &CStr) -> Option<OwnedFd> {
    openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// The inode flags of an opened regular file or directory, or `None` where the file system has
/// none. Other ioctl failures are warnings.
fn read_flags(
    fd: BorrowedFd<'_>,
    what: &dyn fmt::Display,
    warnings: &mut Vec<Error>,
) -> Option<u32> {
    match ioctl_getflags(fd) {
        Ok(f) => Some(f.bits()),
        Err(Errno::NOTTY | Errno::NOTSUP | Errno::INVAL) => None,
        Err(e) => {
            warnings.push(os_error(e, format_args!("{what}: reading inode flags")));
            None
        }
    }
}
