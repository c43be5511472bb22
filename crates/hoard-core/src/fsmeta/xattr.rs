//! Extended attributes and POSIX ACLs, never following a final symlink.
//!
//! Linux keeps a POSIX ACL as the xattr `system.posix_acl_access` (or `..._default` for a
//! directory's inherited ACL), in the kernel's binary form; hoard stores those raw values as the
//! ACLs and every other xattr (user., trusted., security. and other system. names) as xattrs,
//! as borg does.

use std::ffi::CStr;
use std::os::fd::BorrowedFd;

use rustix::fs::{
    XattrFlags, fgetxattr, fgetxattr_query, flistxattr, flistxattr_query, lgetxattr,
    lgetxattr_query, llistxattr, llistxattr_query, lsetxattr,
};
use rustix::io::Errno;

/// The xattr holding a POSIX access ACL.
pub const ACL_ACCESS: &[u8] = b"system.posix_acl_access";
/// The xattr holding a directory's default (inherited) POSIX ACL.
pub const ACL_DEFAULT: &[u8] = b"system.posix_acl_default";

/// Whether `name` is one of the two ACL xattrs (kept apart from the other xattrs).
pub fn is_acl(name: &[u8]) -> bool {
    name == ACL_ACCESS || name == ACL_DEFAULT
}

/// One extended attribute: its full name (with namespace, e.g. `user.comment`) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xattr {
    /// The name's bytes, without a trailing NUL.
    pub name: Vec<u8>,
    /// The value's bytes.
    pub value: Vec<u8>,
}

/// Scratch buffers reused across entries, so a scan allocates only for values it keeps.
pub(crate) struct Bufs {
    /// The NUL-separated name list.
    pub(crate) list: Vec<u8>,
    /// One value.
    pub(crate) value: Vec<u8>,
}

impl Bufs {
    pub(crate) fn new() -> Self {
        Self {
            list: vec![0; 4096],
            value: vec![0; 4096],
        }
    }
}

/// Where xattrs are read: a path (a final symlink not followed) or an open descriptor (no path
/// to resolve again, component by component).
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    /// A path, read with the `l*xattr` calls.
    Path(&'a CStr),
    /// An open file or directory, read with the `f*xattr` calls.
    Fd(BorrowedFd<'a>),
}

impl At<'_> {
    fn list_into(self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            At::Path(p) => llistxattr(p, buf),
            At::Fd(fd) => flistxattr(fd, buf),
        }
    }

    fn list_query(self) -> Result<usize, Errno> {
        match self {
            At::Path(p) => llistxattr_query(p),
            At::Fd(fd) => flistxattr_query(fd),
        }
    }

    fn get_into(self, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            At::Path(p) => lgetxattr(p, name, buf),
            At::Fd(fd) => fgetxattr(fd, name, buf),
        }
    }

    fn get_query(self, name: &CStr) -> Result<usize, Errno> {
        match self {
            At::Path(p) => lgetxattr_query(p, name),
            At::Fd(fd) => fgetxattr_query(fd, name),
        }
    }
}

/// The NUL-terminated names of the xattrs at `at`, in `bufs.list[..len]`. A file system without
/// xattrs has none.
pub(crate) fn list(at: At<'_>, bufs: &mut Bufs) -> Result<usize, Errno> {
    loop {
        match at.list_into(&mut bufs.list[..]) {
            Ok(n) => return Ok(n),
            Err(Errno::NOTSUP) => return Ok(0),
            Err(Errno::RANGE) => {
                // The list grew since; ask its size and retry.
                let need = at.list_query()?;
                let len = need.max(bufs.list.len() * 2);
                bufs.list.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The names listed by [`list`], each with its trailing NUL.
pub(crate) fn names(list: &[u8]) -> impl Iterator<Item = &CStr> {
    list.split_inclusive(|&b| b == 0)
        .filter_map(|n| CStr::from_bytes_with_nul(n).ok())
        .filter(|n| !n.is_empty())
}

/// The value of xattr `name` at `at`, or `None` if it vanished (`ENODATA`); `buf` is scratch
/// space (grown as needed).
pub(crate) fn get(at: At<'_>, name: &CStr, buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, Errno> {
    loop {
        match at.get_into(name, &mut buf[..]) {
            Ok(n) => return Ok(buf.get(..n).map(<[u8]>::to_vec)),
            Err(Errno::NODATA) => return Ok(None),
            Err(Errno::RANGE) => {
                let need = at.get_query(name)?;
                let len = need.max(buf.len() * 2);
                buf.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets xattr `name` to `value` at `path` without following a final symlink (creating or
/// replacing it).
pub(crate) fn set(path: &CStr, name: &[u8], value: &[u8]) -> Result<(), Errno> {
    lsetxattr(path, name, value, XattrFlags::empty())
}
