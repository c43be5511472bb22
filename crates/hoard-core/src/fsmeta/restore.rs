//! Restoring metadata for `hoard extract`, a batch of items per call.
//!
//! Each item is resolved beneath the root as [`super::beneath`] does (no `..`, no absolute path,
//! no symlink on the way) and its metadata set in borg's order: owner, mode, times, ACLs, xattrs,
//! then inode flags (last, since `immutable` would forbid the rest). Nothing follows a symlink
//! in the item itself: a symlink gets its owner, times and xattrs but no mode, ACLs or flags.
//! What fails is reported per item and per step; the batch goes on.

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, CWD, FileType, Gid, IFlags, Mode, OFlags, Stat, Timespec, Timestamps, UTIME_OMIT, Uid,
    XattrFlags, chmodat, chownat, fchmod, fchown, fsetxattr, fstat, futimens, ioctl_getflags,
    ioctl_setflags, openat, statat, utimensat,
};
use rustix::io::Errno;

use super::beneath::{components, have_openat2, open_dir};
use super::xattr::{self, ACL_ACCESS, ACL_DEFAULT, Xattr};
use super::{Shown, from_ns, os_error};
use crate::{Error, Result};

/// Linux's user-modifiable inode flags (`FS_FL_USER_MODIFIABLE`): only these are set; the
/// others (extents, inline data, ...) are kept as the file system has them.
pub const USER_MODIFIABLE_FLAGS: u32 = 0x0003_80FF;

/// The metadata to set on one item that exists already beneath the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemMeta {
    /// The item's path relative to the root.
    pub path: Vec<u8>,
    /// Permission bits (and set-id, sticky); the file type bits are ignored. Not set on symlinks.
    pub mode: Option<u32>,
    /// Owner (`lchown`).
    pub uid: Option<u32>,
    /// Group (`lchown`).
    pub gid: Option<u32>,
    /// Access time, ns since the epoch; when absent but `mtime_ns` is given, the mtime (as borg).
    pub atime_ns: Option<i64>,
    /// Modification time, ns since the epoch.
    pub mtime_ns: Option<i64>,
    /// Extended attributes to set (not the ACLs).
    pub xattrs: Vec<Xattr>,
    /// The raw `system.posix_acl_access` value.
    pub acl_access: Option<Vec<u8>>,
    /// The raw `system.posix_acl_default` value (directories).
    pub acl_default: Option<Vec<u8>>,
    /// Linux inode flags (`FS_*_FL`); only [`USER_MODIFIABLE_FLAGS`] are changed. Regular files
    /// and directories only.
    pub flags: Option<u32>,
}

/// The step of restoring an item that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Resolving the item beneath the root (the item was skipped).
    Open,
    /// `lchown`.
    Chown,
    /// `chmod`.
    Chmod,
    /// `utimensat`.
    Times,
    /// Setting an ACL.
    Acl,
    /// Setting an xattr.
    Xattr,
    /// `FS_IOC_SETFLAGS`.
    Flags,
}

impl Op {
    /// The step's name: `open`, `chown`, `chmod`, `times`, `acl`, `xattr` or `flags`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Chown => "chown",
            Self::Chmod => "chmod",
            Self::Times => "times",
            Self::Acl => "acl",
            Self::Xattr => "xattr",
            Self::Flags => "flags",
        }
    }
}

/// One step that failed for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The item's index in the batch.
    pub index: usize,
    /// The step.
    pub op: Op,
    /// What went wrong, with its stable kind (`PermissionDenied` for a chown without privilege,
    /// `Io` for an xattr the file system does not support, ...).
    pub error: Error,
}

/// The parent directory of the previous item, reused while items share it.
struct ParentCache {
    key: Vec<u8>,
    dir: Option<OwnedFd>,
}

/// Sets each item's metadata; returns what failed, item by item. Only a root that cannot be
/// used fails the call (the caller opened it with [`super::open_root`]). An item whose path is
/// `.` is the root directory itself.
pub fn apply_metadata(root: BorrowedFd<'_>, items: &[ItemMeta]) -> Vec<Warning> {
    let use_openat2 = have_openat2();
    let have_proc = statat(CWD, "/proc/self/fd", AtFlags::empty()).is_ok();
    let mut cache = ParentCache {
        key: Vec::new(),
        dir: None,
    };
    let mut warnings = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let mut warn = |op: Op, error: Error| warnings.push(Warning { index, op, error });
        // `.` is the root itself (an archive's own root item): set on the entry `.` of the root.
        let opened = if item.path == b"." {
            Ok((root, c".".to_owned()))
        } else {
            open_item(root, &item.path, use_openat2, &mut cache)
        };
        match opened {
            Ok((dir, name)) => apply_one(dir, &name, item, have_proc, &mut warn),
            Err(e) => warn(Op::Open, e),
        }
    }
    warnings
}

/// The directory and name of `rel`, reusing the cached parent when it is the same.
fn open_item<'c>(
    root: BorrowedFd<'_>,
    rel: &[u8],
    use_openat2: bool,
    cache: &'c mut ParentCache,
) -> Result<(BorrowedFd<'c>, std::ffi::CString)> {
    let comps = components(rel)?;
    let Some((last, parents)) = comps.split_last() else {
        return Err(Error::invalid("the path names no entry"));
    };
    let key = parents.join(&b'/');
    if cache.dir.is_none() || cache.key != key {
        cache.dir = None;
        cache.dir = Some(open_dir(root, parents, rel, use_openat2)?);
        cache.key = key;
    }
    let name =
        std::ffi::CString::new(*last).map_err(|_| Error::invalid("a path holds a NUL byte"))?;
    match &cache.dir {
        Some(d) => Ok((d.as_fd(), name)),
        None => Err(Error::invalid("no parent directory")),
    }
}

/// Sets `item`'s metadata on `name` in `dir`.
fn apply_one(
    dir: BorrowedFd<'_>,
    name: &CStr,
    item: &ItemMeta,
    have_proc: bool,
    warn: &mut dyn FnMut(Op, Error),
) {
    let rel = Shown(&item.path);
    // The entry itself, never followed: every step below acts on this inode or on (dir, name)
    // with AT_SYMLINK_NOFOLLOW.
    let entry = match openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return warn(Op::Open, os_error(e, &rel)),
    };
    let st = match fstat(&entry) {
        Ok(st) => st,
        Err(e) => return warn(Op::Open, os_error(e, &rel)),
    };
    let kind = FileType::from_raw_mode(st.st_mode);
    let symlink = kind == FileType::Symlink;

    // Owner and mode only where they differ (a directory made by the extract has the process's
    // owner, and usually its mode).
    let chowned = owner_differs(item, Some(&st));
    if chowned {
        let uid = item.uid.map(Uid::from_raw_unchecked);
        let gid = item.gid.map(Gid::from_raw_unchecked);
        if let Err(e) = chownat(&entry, c"", uid, gid, AtFlags::EMPTY_PATH) {
            warn(Op::Chown, os_error(e, format_args!("{rel}: chown")));
        }
    }

    if let Some(mode) = item.mode.filter(|_| !symlink)
        && mode_differs(mode, Some(&st), chowned)
        && let Err(e) = chmod(&entry, dir, name, mode, have_proc)
    {
        warn(Op::Chmod, os_error(e, format_args!("{rel}: chmod")));
    }

    if let Some(times) = timestamps(item)
        && let Err(e) = utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)
    {
        warn(Op::Times, os_error(e, format_args!("{rel}: setting times")));
    }

    let has_acl = !symlink && (item.acl_access.is_some() || item.acl_default.is_some());
    if has_acl || !item.xattrs.is_empty() {
        if !have_proc {
            let e = Error::new(
                crate::ErrorKind::Io,
                format!("{rel}: setting xattrs and ACLs needs /proc/self/fd"),
            );
            warn(if has_acl { Op::Acl } else { Op::Xattr }, e);
        } else {
            let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
            path.extend_from_slice(name.to_bytes_with_nul());
            if let Ok(path) = CStr::from_bytes_with_nul(&path) {
                set_xattrs(path, item, symlink, &rel, warn);
            }
        }
    }

    if let Some(flags) = item.flags
        && matches!(kind, FileType::RegularFile | FileType::Directory)
        && let Err(e) = set_flags(dir, name, flags)
    {
        warn(
            Op::Flags,
            os_error(e, format_args!("{rel}: setting inode flags")),
        );
    }
}

/// The times to set on `item`, if it has any: the atime defaults to the mtime (as borg).
fn timestamps(item: &ItemMeta) -> Option<Timestamps> {
    if item.mtime_ns.is_none() && item.atime_ns.is_none() {
        return None;
    }
    let spec = |ns: Option<i64>| {
        ns.map_or(
            Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            |ns| {
                let (sec, nsec) = from_ns(ns);
                Timespec {
                    tv_sec: sec,
                    tv_nsec: i64::from(nsec),
                }
            },
        )
    };
    Some(Timestamps {
        last_access: spec(item.atime_ns.or(item.mtime_ns)),
        last_modification: spec(item.mtime_ns),
    })
}

/// Whether `item`'s owner differs from `st`'s: a chown that would change nothing is left out (it
/// costs a journaled inode update; a new file already has the process's owner).
fn owner_differs(item: &ItemMeta, st: Option<&Stat>) -> bool {
    match st {
        Some(st) => {
            item.uid.is_some_and(|u| u != st.st_uid) || item.gid.is_some_and(|g| g != st.st_gid)
        }
        None => item.uid.is_some() || item.gid.is_some(),
    }
}

/// Whether `mode` (permission bits, set-id and sticky) differs from `st`'s; after a chown it
/// always does (a chown may clear set-id bits).
fn mode_differs(mode: u32, st: Option<&Stat>, chowned: bool) -> bool {
    chowned || st.is_none_or(|st| st.st_mode & 0o7777 != mode & 0o7777)
}

/// Sets `item`'s metadata on the regular file that `file` has open (for writing, or read-only),
/// through the descriptor: the same steps in the same order as [`apply_metadata`], without
/// resolving any path. Call it after the file's last write (a write by an unprivileged process
/// clears set-id bits, and moves the mtime); the descriptor keeps its access, so a file whose
/// mode forbids writing was still written. The owner and mode are read first (`fstat`) and set
/// only where they differ: a new file already has the process's owner, and often its mode (see
/// `restore::open_piece`). `flags_clear` says that the file has none of
/// [`USER_MODIFIABLE_FLAGS`] (it was just made in a directory that has none, and a new file's
/// flags come from its directory's): then wanting none of them needs no `ioctl`. Returns the
/// steps that failed.
pub fn apply_to_file(file: BorrowedFd<'_>, item: &ItemMeta, flags_clear: bool) -> Vec<(Op, Error)> {
    let rel = Shown(&item.path);
    let mut failed = Vec::new();
    let wants_owner = item.uid.is_some() || item.gid.is_some();
    let st = if wants_owner || item.mode.is_some() {
        fstat(file).ok()
    } else {
        None
    };
    let chowned = wants_owner && owner_differs(item, st.as_ref());
    if chowned {
        let uid = item.uid.map(Uid::from_raw_unchecked);
        let gid = item.gid.map(Gid::from_raw_unchecked);
        if let Err(e) = fchown(file, uid, gid) {
            failed.push((Op::Chown, os_error(e, format_args!("{rel}: chown"))));
        }
    }
    if let Some(mode) = item.mode
        && mode_differs(mode, st.as_ref(), chowned)
        && let Err(e) = fchmod(file, Mode::from_raw_mode(mode & 0o7777))
    {
        failed.push((Op::Chmod, os_error(e, format_args!("{rel}: chmod"))));
    }
    if let Some(times) = timestamps(item)
        && let Err(e) = futimens(file, &times)
    {
        failed.push((Op::Times, os_error(e, format_args!("{rel}: setting times"))));
    }
    for (name, value) in [
        (ACL_ACCESS, &item.acl_access),
        (ACL_DEFAULT, &item.acl_default),
    ] {
        if let Some(v) = value
            && let Err(e) = fsetxattr(file, name, v, XattrFlags::empty())
        {
            failed.push((Op::Acl, os_error(e, format_args!("{rel}: {}", Shown(name)))));
        }
    }
    for x in item.xattrs.iter().filter(|x| !xattr::is_acl(&x.name)) {
        if let Err(e) = fsetxattr(file, x.name.as_slice(), &x.value, XattrFlags::empty()) {
            failed.push((
                Op::Xattr,
                os_error(e, format_args!("{rel}: xattr {}", Shown(&x.name))),
            ));
        }
    }
    if let Some(flags) = item.flags
        && !(flags_clear && flags & USER_MODIFIABLE_FLAGS == 0)
        && let Err(e) = set_flags_of(file, flags)
    {
        failed.push((
            Op::Flags,
            os_error(e, format_args!("{rel}: setting inode flags")),
        ));
    }
    failed
}

/// Whether the directory `dir` has none of [`USER_MODIFIABLE_FLAGS`] (false where its flags
/// cannot be read), so that the files made in it have none either (see [`apply_to_file`]).
pub fn flags_clear(dir: BorrowedFd<'_>) -> bool {
    ioctl_getflags(dir).is_ok_and(|f| f.bits() & USER_MODIFIABLE_FLAGS == 0)
}

/// `chmod` of the entry opened `O_PATH` as `entry`: through `/proc/self/fd` (the very inode),
/// or, without `/proc`, by name (the entry was just seen not to be a symlink).
fn chmod(
    entry: &OwnedFd,
    dir: BorrowedFd<'_>,
    name: &CStr,
    mode: u32,
    have_proc: bool,
) -> std::result::Result<(), Errno> {
    let mode = Mode::from_raw_mode(mode & 0o7777);
    if have_proc {
        let path = format!("/proc/self/fd/{}", entry.as_raw_fd());
        chmodat(CWD, path.as_str(), mode, AtFlags::empty())
    } else {
        chmodat(dir, name, mode, AtFlags::empty())
    }
}

/// Sets the ACLs (not on symlinks) and the xattrs at `path` (which names the entry without
/// following it).
fn set_xattrs(
    path: &CStr,
    item: &ItemMeta,
    symlink: bool,
    rel: &dyn fmt::Display,
    warn: &mut dyn FnMut(Op, Error),
) {
    if !symlink {
        for (name, value) in [
            (ACL_ACCESS, &item.acl_access),
            (ACL_DEFAULT, &item.acl_default),
        ] {
            if let Some(v) = value
                && let Err(e) = xattr::set(path, name, v)
            {
                warn(Op::Acl, os_error(e, format_args!("{rel}: {}", Shown(name))));
            }
        }
    }
    for x in &item.xattrs {
        if xattr::is_acl(&x.name) {
            continue;
        }
        if let Err(e) = xattr::set(path, &x.name, &x.value) {
            warn(
                Op::Xattr,
                os_error(e, format_args!("{rel}: xattr {}", Shown(&x.name))),
            );
        }
    }
}

/// Sets the user-modifiable inode flags of a regular file or directory to those of `flags`.
fn set_flags(dir: BorrowedFd<'_>, name: &CStr, flags: u32) -> std::result::Result<(), Errno> {
    let fd = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    set_flags_of(fd.as_fd(), flags)
}

/// Sets the user-modifiable inode flags of the open regular file or directory `fd` to those of
/// `flags`, unless they are so already.
fn set_flags_of(fd: BorrowedFd<'_>, flags: u32) -> std::result::Result<(), Errno> {
    let current = match ioctl_getflags(fd) {
        Ok(f) => f.bits(),
        // A file system without flags: nothing to do if none are wanted.
        Err(Errno::NOTTY | Errno::NOTSUP | Errno::INVAL) if flags & USER_MODIFIABLE_FLAGS == 0 => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let wanted = (current & !USER_MODIFIABLE_FLAGS) | (flags & USER_MODIFIABLE_FLAGS);
    if wanted == current {
        return Ok(());
    }
    ioctl_setflags(fd, IFlags::from_bits_retain(wanted))
}
