//! Creating a file under a name only if the name is free, on file systems with and without hard
//! links, and replacing one only if it is there.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{CWD, RenameFlags, renameat_with};
use rustix::io::Errno;

use super::{Shown, os_error};
use crate::error::Result;

/// Renames `from` to `to` unless `to` exists (`renameat2` with `RENAME_NOREPLACE`): true if it was
/// renamed, false if `to` was taken (and `from` is left as it was). For file systems without hard
/// links (exFAT, CIFS), where `link(2)` cannot give the same guarantee. A file system that does not
/// support the flag fails with an error naming it.
pub fn rename_no_replace(from: &[u8], to: &[u8]) -> Result<bool> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(os_error(
            e,
            format_args!("rename {} to {}", Shown(from), Shown(to)),
        )),
    }
}

/// Swaps `from` and `to` atomically if `to` exists (`renameat2` with `RENAME_EXCHANGE`): true if
/// they were swapped (`from` then holds what `to` held), false if `to` did not exist (nothing
/// changed). `None` where the file system does not support the flag.
pub fn rename_exchange(from: &[u8], to: &[u8]) -> Result<Option<bool>> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(Some(true)),
        Err(Errno::NOENT) if std::fs::symlink_metadata(OsStr::from_bytes(from)).is_ok() => {
            Ok(Some(false))
        }
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => Ok(None),
        Err(e) => Err(os_error(
            e,
            format_args!("exchange {} with {}", Shown(from), Shown(to)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn renames_only_onto_a_free_name() {
        let dir = std::env::temp_dir().join(format!("hoard-excl-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        fs::write(&a, b"first").expect("write a");
        fs::write(&b, b"second").expect("write b");
        let bytes = |p: &std::path::Path| p.as_os_str().as_encoded_bytes().to_vec();
        assert!(rename_no_replace(&bytes(&a), &bytes(&c)).expect("rename a"));
        assert!(!a.exists());
        assert!(!rename_no_replace(&bytes(&b), &bytes(&c)).expect("rename b"));
        assert_eq!(fs::read(&c).expect("read c"), b"first");
        assert_eq!(
            fs::read(&b).expect("read b"),
            b"second",
            "the loser is left alone"
        );
        let missing = rename_no_replace(&bytes(&dir.join("none")), &bytes(&dir.join("d")));
        assert!(missing.is_err_and(|e| e.to_string().contains("none")));
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn exchanges_only_with_an_existing_name() {
        let dir = std::env::temp_dir().join(format!("hoard-xchg-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        fs::write(&a, b"new").expect("write a");
        fs::write(&b, b"old").expect("write b");
        let bytes = |p: &std::path::Path| p.as_os_str().as_encoded_bytes().to_vec();
        assert_eq!(
            rename_exchange(&bytes(&a), &bytes(&b)).expect("exchange"),
            Some(true)
        );
        assert_eq!(fs::read(&b).expect("read b"), b"new");
        assert_eq!(fs::read(&a).expect("read a"), b"old");
        assert_eq!(
            rename_exchange(&bytes(&a), &bytes(&c)).expect("no c"),
            Some(false)
        );
        assert!(!c.exists(), "nothing is created under a missing name");
        assert_eq!(
            fs::read(&a).expect("read a"),
            b"old",
            "the source is left alone"
        );
        let missing = rename_exchange(&bytes(&dir.join("none")), &bytes(&b));
        assert!(missing.is_err_and(|e| e.to_string().contains("none")));
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
