//! The file system calls Node lacks or does lossily (Linux): reading a directory's metadata in one
//! call ([`scan`]), extended attributes and ACLs ([`xattr`]), restoring metadata ([`restore`]),
//! opening and making things strictly beneath an extraction root ([`beneath`]), sparse files
//! ([`sparse`]) and renaming onto a free name only ([`exclusive`]).
//!
//! Everything goes through `rustix`: safe wrappers over the raw system calls (`statx`, `openat2`,
//! `mknodat`, `utimensat`, the `*xattr` family, `FS_IOC_GETFLAGS`), so this module needs no
//! `unsafe`. Paths are bytes (`&[u8]`), as the kernel sees them: names need not be UTF-8.

pub mod beneath;
pub mod exclusive;
pub mod restore;
pub mod scan;
pub mod sparse;
pub mod xattr;

#[cfg(test)]
pub(crate) mod tests;

use std::fmt;

pub use beneath::{
    Parent, SpecialKind, make_hard_link, make_special, make_symlink, mkdir_beneath, open_beneath,
    open_root, resolve_parent,
};
pub use exclusive::{rename_exchange, rename_no_replace};
pub use restore::{ItemMeta, Op, Warning, apply_metadata};
pub use rustix::fs::{Mode, OFlags};
pub use scan::{
    FileMeta, Meta, ScanEntry, ScanOptions, Xattr, lstat_path, read_file_meta, scan_directories,
    scan_directory,
};
pub use sparse::{Segment, SparseWriter, segments};

use rustix::io::Errno;

use crate::{Error, ErrorKind};

/// The stable kind of an OS error number.
pub(crate) fn errno_kind(e: Errno) -> ErrorKind {
    match e {
        Errno::NOENT => ErrorKind::NotFound,
        Errno::ACCESS | Errno::PERM => ErrorKind::PermissionDenied,
        Errno::EXIST => ErrorKind::Exists,
        _ => ErrorKind::Io,
    }
}

/// An error for an OS error number about `what` (a path or a description).
pub(crate) fn os_error(e: Errno, what: impl fmt::Display) -> Error {
    Error::new(
        errno_kind(e),
        format!("{what}: {}", std::io::Error::from(e)),
    )
}

/// Bytes shown as a path in messages (`?` for each byte that is not UTF-8: `error::shown_bytes`).
pub(crate) struct Shown<'a>(pub &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::error::shown_bytes(self.0))
    }
}

/// `prefix` and `name` joined by one `/`, for messages.
pub(crate) struct Joined<'a>(pub &'a [u8], pub &'a [u8]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() || self.0.ends_with(b"/") {
            write!(f, "{}{}", Shown(self.0), Shown(self.1))
        } else {
            write!(f, "{}/{}", Shown(self.0), Shown(self.1))
        }
    }
}

/// Nanoseconds since the epoch from seconds and nanoseconds, or `None` past i64's range
/// (about the years 1677 to 2262).
pub(crate) fn to_ns(sec: i64, nsec: u32) -> Option<i64> {
    sec.checked_mul(1_000_000_000)?.checked_add(i64::from(nsec))
}

/// Seconds and nanoseconds (`0..1e9`) of nanoseconds since the epoch.
pub(crate) fn from_ns(ns: i64) -> (i64, u32) {
    // rem_euclid is in 0..1e9, so the cast is exact.
    (
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
}
