//! Opening and making things strictly beneath an extraction root, so that an archive's paths can
//! never write outside it.
//!
//! A path relative to the root (`rel`) is checked by its bytes first: empty, absolute, or holding
//! a `..` component or a NUL byte is refused with `HOARD_INVALID_ARGUMENT`. It is then resolved
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, or, where the
//! kernel lacks `openat2`, one component at a time with `O_NOFOLLOW`. Either way a symlink
//! anywhere on the way (a parent, or the entry itself when it is opened) is refused with
//! `HOARD_PERMISSION_DENIED`: even a symlink that stays inside the root is not followed, since an
//! archive's own symlinks must never redirect where later items land. The root itself may be
//! reached through symlinks: it is the user's choice.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::{
    AtFlags, CWD, FileType, Mode, OFlags, ResolveFlags, linkat, mkdirat, mknodat, openat, openat2,
    statat, symlinkat, unlinkat,
};
use rustix::io::Errno;

use super::{Joined, Shown, os_error};
use crate::{Error, ErrorKind, Result};

/// How `openat2` resolves every path beneath the root.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// How often an `openat2` that saw a concurrent rename (`EAGAIN`) is tried again.
const RETRIES: usize = 8;

/// Whether this kernel has `openat2` (probed once).
pub(crate) fn have_openat2() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        openat2(
            CWD,
            "/",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS,
        )
        .is_ok()
    })
}

/// Opens the extraction root `path` as a directory (`O_PATH`), to hand to the other functions.
pub fn open_root(path: &[u8]) -> Result<OwnedFd> {
    openat(
        CWD,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| os_error(e, Shown(path)))
}

/// The components of `rel`, checked: not empty, not absolute, no `..`, no NUL. Empty and `.`
/// components are dropped.
pub(crate) fn components(rel: &[u8]) -> Result<Vec<&[u8]>> {
    let refuse = |why: &str| Err(Error::invalid(format!("{}: {why}", Shown(rel))));
    if rel.first() == Some(&b'/') {
        return refuse("an absolute path is refused beneath the extraction root");
    }
    if rel.contains(&0) {
        return refuse("a path may not hold a NUL byte");
    }
    let comps: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if comps.iter().any(|c| *c == b"..") {
        return refuse("'..' is refused in a path beneath the extraction root");
    }
    if comps.is_empty() {
        return refuse("the path names no entry beneath the extraction root");
    }
    Ok(comps)
}

/// `comps` joined by `/`.
fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

/// The error for a failed open of `rel` beneath the root.
fn beneath_error(e: Errno, rel: &[u8]) -> Error {
    match e {
        Errno::LOOP | Errno::XDEV => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{}: refused: a symlink in the path, or the entry itself being a symlink, \
                 could lead outside the extraction root",
                Shown(rel)
            ),
        ),
        _ => os_error(e, Shown(rel)),
    }
}

/// The error for component `name` of `dir` that would not open as asked: a symlink is refused,
/// something else that is not a directory exists already.
fn component_error(e: Errno, dir: BorrowedFd<'_>, name: &[u8], rel: &[u8]) -> Error {
    if matches!(e, Errno::NOTDIR | Errno::LOOP) {
        match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                return Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "{}: refused: {} is a symlink, which could lead outside the extraction root",
                        Shown(rel),
                        Shown(name)
                    ),
                );
            }
            Ok(_) if e == Errno::NOTDIR => {
                return Error::new(
                    ErrorKind::Exists,
                    format!(
                        "{}: {} exists and is not a directory",
                        Shown(rel),
                        Shown(name)
                    ),
                );
            }
            _ => {}
        }
    }
    os_error(e, Shown(rel))
}

/// Opens `rel` beneath `root` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` are always added) and,
/// when creating, `mode`. `rel` is relative to `root`; see the module's notes for what is
/// refused. This is the one way hoard opens a file it restores.
pub fn open_beneath(
    root: BorrowedFd<'_>,
    rel: &[u8],
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd> {
    open_beneath_with(root, rel, flags, mode, have_openat2())
}

/// [`open_beneath`], by `openat2` or by the component walk.
pub(crate) fn open_beneath_with(
    root: BorrowedFd<'_>,
    rel: &[u8],
    flags: OFlags,
    mode: Mode,
    use_openat2: bool,
) -> Result<OwnedFd> {
    let comps = components(rel)?;
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // openat2 refuses a mode unless a file may be created.
    let mode = if flags.intersects(OFlags::CREATE | OFlags::TMPFILE) {
        mode
    } else {
        Mode::empty()
    };
    if use_openat2 {
        let path = join(&comps);
        let mut tries = 0;
        loop {
            match openat2(root, path.as_slice(), flags, mode, RESOLVE) {
                Ok(fd) => return Ok(fd),
                Err(Errno::AGAIN) if tries < RETRIES => tries += 1,
                // Some component is not a directory (or, with O_DIRECTORY, a symlink): the walk
                // tells which, and why.
                Err(Errno::NOTDIR) => break,
                Err(e) => return Err(beneath_error(e, rel)),
            }
        }
    }
    let (last, parents) = comps
        .split_last()
        .ok_or_else(|| Error::invalid("the path names no entry"))?;
    let dir = walk(root, parents, rel)?;
    openat(&dir, *last, flags, mode).map_err(|e| component_error(e, dir.as_fd(), last, rel))
}

/// Opens the directory `comps` beneath `root` (`O_PATH`), one component at a time without
/// following symlinks.
fn walk(root: BorrowedFd<'_>, comps: &[&[u8]], rel: &[u8]) -> Result<OwnedFd> {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = openat(root, ".", dir_flags, Mode::empty()).map_err(|e| os_error(e, "root"))?;
    for c in comps {
        dir = openat(&dir, *c, dir_flags, Mode::empty())
            .map_err(|e| component_error(e, dir.as_fd(), c, rel))?;
    }
    Ok(dir)
}

/// Opens the directory `comps` beneath `root` (`O_PATH`).
pub(crate) fn open_dir(
    root: BorrowedFd<'_>,
    comps: &[&[u8]],
    rel: &[u8],
    use_openat2: bool,
) -> Result<OwnedFd> {
    if comps.is_empty() || !use_openat2 {
        return walk(root, comps, rel);
    }
    let path = join(comps);
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut tries = 0;
    loop {
        match openat2(root, path.as_slice(), flags, Mode::empty(), RESOLVE) {
            Ok(fd) => return Ok(fd),
            Err(Errno::AGAIN) if tries < RETRIES => tries += 1,
            // Some component is a symlink or not a directory: the walk tells which.
            Err(Errno::NOTDIR) => return walk(root, comps, rel),
            Err(e) => return Err(beneath_error(e, rel)),
        }
    }
}

/// The directory holding an entry beneath the root, and the entry's name in it: the `*at`
/// system calls act on `(dir, name)` without ever resolving the path again.
#[derive(Debug)]
pub struct Parent {
    /// The entry's directory, opened `O_PATH` beneath the root.
    pub dir: OwnedFd,
    /// The entry's last component.
    pub name: CString,
}

/// Resolves the parent of `rel` beneath `root` (refusing what [`open_beneath`] refuses); the
/// entry itself need not exist.
pub fn resolve_parent(root: BorrowedFd<'_>, rel: &[u8]) -> Result<Parent> {
    resolve_parent_with(root, rel, have_openat2())
}

/// [`resolve_parent`], by `openat2` or by the component walk.
pub(crate) fn resolve_parent_with(
    root: BorrowedFd<'_>,
    rel: &[u8],
    use_openat2: bool,
) -> Result<Parent> {
    let comps = components(rel)?;
    let (last, parents) = comps
        .split_last()
        .ok_or_else(|| Error::invalid("the path names no entry"))?;
    let dir = open_dir(root, parents, rel, use_openat2)?;
    let name = CString::new(*last).map_err(|_| Error::invalid("a path holds a NUL byte"))?;
    Ok(Parent { dir, name })
}

/// Makes directory `rel` beneath `root` with `mode` (less the umask), and any missing parents,
/// as `mkdir -p`; an existing directory is kept. Returns it opened `O_RDONLY | O_DIRECTORY`.
/// Something in the way that is not a directory is `HOARD_EXISTS`, and a symlink is refused,
/// except that with `replace` a file, symlink or special file at `rel` itself (not at a parent)
/// is unlinked and the directory made in its place, as borg's extract does.
pub fn mkdir_beneath(
    root: BorrowedFd<'_>,
    rel: &[u8],
    mode: Mode,
    replace: bool,
) -> Result<OwnedFd> {
    let comps = components(rel)?;
    mkdir_comps(root, &comps, rel, mode, have_openat2(), replace)
}

/// [`mkdir_beneath`] with the choice of resolution (for tests of the fallback).
#[cfg(test)]
pub(crate) fn mkdir_beneath_with(
    root: BorrowedFd<'_>,
    rel: &[u8],
    mode: Mode,
    use_openat2: bool,
) -> Result<OwnedFd> {
    let comps = components(rel)?;
    mkdir_comps(root, &comps, rel, mode, use_openat2, false)
}

fn mkdir_comps(
    root: BorrowedFd<'_>,
    comps: &[&[u8]],
    rel: &[u8],
    mode: Mode,
    use_openat2: bool,
    replace: bool,
) -> Result<OwnedFd> {
    let Some((last, parents)) = comps.split_last() else {
        return Err(Error::invalid("the path names no entry"));
    };
    let parent = match open_dir(root, parents, rel, use_openat2) {
        Ok(p) => p,
        Err(e) if e.kind == ErrorKind::NotFound && !parents.is_empty() => {
            mkdir_comps(root, parents, rel, mode, use_openat2, false)?
        }
        Err(e) => return Err(e),
    };
    let make = || match mkdirat(&parent, *last, mode) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(os_error(e, Joined(&join(parents), last))),
    };
    let open = || {
        openat(
            &parent,
            *last,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    make()?;
    match open() {
        // Not a directory, or a symlink: the entry itself is unlinked (never followed).
        Err(Errno::NOTDIR | Errno::LOOP) if replace => {
            unlinkat(&parent, *last, AtFlags::empty())
                .map_err(|e| os_error(e, Joined(&join(parents), last)))?;
            make()?;
            open()
        }
        other => other,
    }
    .map_err(|e| component_error(e, parent.as_fd(), last, rel))
}

/// The kinds of special file [`make_special`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialKind {
    /// A named pipe.
    Fifo,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A Unix socket's file (no one listens on it).
    Socket,
}

/// Makes the special file `rel` beneath `root`: `mode`'s permission bits (less the umask) and,
/// for devices, device number `rdev` (`makedev(major, minor)`). Devices need privilege.
pub fn make_special(
    root: BorrowedFd<'_>,
    rel: &[u8],
    kind: SpecialKind,
    mode: u32,
    rdev: u64,
) -> Result<()> {
    let p = resolve_parent(root, rel)?;
    let perm = Mode::from_raw_mode(mode & 0o7777);
    let file_type = match kind {
        SpecialKind::Fifo => FileType::Fifo,
        SpecialKind::Char => FileType::CharacterDevice,
        SpecialKind::Block => FileType::BlockDevice,
        SpecialKind::Socket => FileType::Socket,
    };
    let dev = if matches!(kind, SpecialKind::Char | SpecialKind::Block) {
        rdev
    } else {
        0
    };
    mknodat(&p.dir, &p.name, file_type, perm, dev).map_err(|e| os_error(e, Shown(rel)))
}

/// Makes symlink `rel` beneath `root` pointing at `target` (any bytes but NUL; the target is
/// stored, never followed here).
pub fn make_symlink(root: BorrowedFd<'_>, rel: &[u8], target: &[u8]) -> Result<()> {
    let target = CString::new(target).map_err(|_| {
        Error::invalid(format!(
            "{}: a symlink target may not hold a NUL byte",
            Shown(rel)
        ))
    })?;
    let p = resolve_parent(root, rel)?;
    symlinkat(&target, &p.dir, &p.name).map_err(|e| os_error(e, Shown(rel)))
}

/// Makes `new` beneath `root` a hard link to `existing` beneath `root` (a symlink is linked
/// itself, not followed).
pub fn make_hard_link(root: BorrowedFd<'_>, existing: &[u8], new: &[u8]) -> Result<()> {
    let from = resolve_parent(root, existing)?;
    let to = resolve_parent(root, new)?;
    linkat(&from.dir, &from.name, &to.dir, &to.name, AtFlags::empty())
        .map_err(|e| os_error(e, format_args!("{} -> {}", Shown(new), Shown(existing))))
}
