//! Tests of fsmeta on real files in a temporary directory, checked against `std::fs`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

mod beneath;
mod restore;
mod scan;
mod sparse;

/// A directory under /var/tmp (a disk file system, so xattrs, ACLs and inode flags work where
/// the machine allows them), removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = if Path::new("/var/tmp").is_dir() {
            PathBuf::from("/var/tmp")
        } else {
            std::env::temp_dir()
        };
        let p = base.join(format!(
            "hoard-fsmeta-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("mkdir temp");
        Self(p)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_os_str().as_bytes()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0
}

pub(crate) fn root_fd(t: &TempDir) -> std::os::fd::OwnedFd {
    open_root(t.bytes()).expect("open root")
}

/// An extended POSIX ACL in the kernel's xattr form (a minimal one would be folded into the mode
/// bits): `u::rw-,u:USER:r--,g::r--,m::r--,o::---`.
pub(crate) fn extended_acl(user: u32) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, user),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

/// Whether user xattrs work under `dir`; prints a note when they do not.
pub(crate) fn user_xattrs_work(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    fs::write(&probe, b"").expect("probe");
    let ok = rustix::fs::setxattr(&probe, "user.hoard", b"1", rustix::fs::XattrFlags::empty());
    let _ = fs::remove_file(&probe);
    match ok {
        Ok(()) => true,
        Err(e) => {
            println!(
                "note: user xattrs unsupported under {}: {e}; skipping",
                dir.display()
            );
            false
        }
    }
}
