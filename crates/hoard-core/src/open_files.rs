//! Files kept open for reading byte ranges: the packs an extract reads from.
//!
//! An extract reads ranges of the same packs over and over (a batch of files, a group of trees),
//! and opening and closing a pack for every read was thousands of system calls and, in Node,
//! several trips through libuv's threads per read. [`OpenFiles`] keeps the most recently read
//! files open (a few, closed as newer ones push them out or when it is dropped). Each read still
//! looks the name up (`stat`) and uses a kept descriptor only while the name leads to the same
//! file: a file deleted or replaced since reads as if it had been opened anew.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, ErrorKind, Result};

/// A kept file: its path, (device, inode) and descriptor.
type Kept = (PathBuf, (u64, u64), Arc<File>);

/// Files kept open, most recently used first, at most `capacity` of them.
pub struct OpenFiles {
    capacity: usize,
    files: Mutex<Vec<Kept>>,
}

impl OpenFiles {
    /// Keeps at most `capacity` files open (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            files: Mutex::new(Vec::new()),
        }
    }

    /// The file at `path` open for reading: a kept descriptor if the name still leads to the
    /// file it was opened on, else opened now (read-only).
    pub fn open(&self, path: &Path) -> Result<Arc<File>> {
        let now = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
        let id = (now.dev(), now.ino());
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = files.iter().position(|(p, _, _)| p == path) {
            let entry = files.remove(i);
            if entry.1 == id {
                let file = Arc::clone(&entry.2);
                files.insert(0, entry);
                return Ok(file);
            }
        }
        let file = File::open(path).map_err(|e| io_error(path, &e))?;
        let meta = file.metadata().map_err(|e| io_error(path, &e))?;
        let file = Arc::new(file);
        files.truncate(self.capacity - 1);
        files.insert(
            0,
            (
                path.to_path_buf(),
                (meta.dev(), meta.ino()),
                Arc::clone(&file),
            ),
        );
        Ok(file)
    }

    /// Fills `buf` from `offset` of `file` (the file at `path`, from [`OpenFiles::open`]); how
    /// many bytes were read (fewer only where the file ends). A file that fails to read is not
    /// kept for the next call.
    pub fn read_at(&self, path: &Path, file: &File, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.forget(path);
                    return Err(io_error(path, &e));
                }
            }
        }
        Ok(done)
    }

    /// Reads `ranges` of the file at `path`, each `(offset, buffer)` filled from its offset; per
    /// range, how many bytes were read (fewer than its buffer only where the file ends).
    pub fn read_ranges(&self, path: &Path, ranges: &mut [(u64, &mut [u8])]) -> Result<Vec<usize>> {
        let file = self.open(path)?;
        ranges
            .iter_mut()
            .map(|(offset, buf)| self.read_at(path, &file, *offset, buf))
            .collect()
    }

    /// Closes the kept file at `path`, if any (once no read uses it).
    pub fn forget(&self, path: &Path) {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|(p, _, _)| p != path);
    }

    /// Closes every kept file (once no read uses it).
    pub fn clear(&self) {
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many files are kept open.
    pub fn len(&self) -> usize {
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no file is kept open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An error reading `path`, worded as the storage backend words it.
fn io_error(path: &Path, e: &std::io::Error) -> Error {
    let shown = crate::error::shown_path(path);
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => Error::new(
            ErrorKind::NotFound,
            format!("{shown}: no such file or directory"),
        ),
        std::io::ErrorKind::PermissionDenied => Error::new(
            ErrorKind::PermissionDenied,
            format!("{shown}: permission denied"),
        ),
        _ => Error::new(ErrorKind::Io, format!("{shown}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hoard-open-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_ranges_and_short_ranges_at_the_end() {
        let dir = temp_dir("ranges");
        let path = dir.join("a");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let files = OpenFiles::new(4);
        let (mut a, mut b, mut c) = (vec![0u8; 100], vec![0u8; 5000], vec![0u8; 50]);
        let got = files
            .read_ranges(&path, &mut [(7, &mut a), (9000, &mut b), (0, &mut c)])
            .unwrap();
        assert_eq!(got, vec![100, 1000, 50]);
        assert_eq!(a, data[7..107]);
        assert_eq!(b[..1000], data[9000..]);
        assert_eq!(c, data[..50]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keeps_the_most_recent_files_open_and_never_reads_a_name_that_changed() {
        let dir = temp_dir("lru");
        let names: Vec<PathBuf> = (0..4).map(|i| dir.join(format!("f{i}"))).collect();
        for (i, p) in names.iter().enumerate() {
            std::fs::write(p, vec![i as u8; 10]).unwrap();
        }
        let files = OpenFiles::new(2);
        let mut buf = [0u8; 10];
        for p in &names[..3] {
            files.read_ranges(p, &mut [(0, &mut buf)]).unwrap();
        }
        assert_eq!(files.len(), 2);
        // A kept file whose name now leads to another file (a rename over it) reads the new one.
        std::fs::write(dir.join("new"), [7u8; 10]).unwrap();
        std::fs::rename(dir.join("new"), &names[2]).unwrap();
        assert_eq!(
            files.read_ranges(&names[2], &mut [(0, &mut buf)]).unwrap(),
            vec![10]
        );
        assert_eq!(buf, [7u8; 10]);
        // A kept file that was deleted is missing, as it would be without keeping it.
        std::fs::remove_file(&names[1]).unwrap();
        let e = files
            .read_ranges(&names[1], &mut [(0, &mut buf)])
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(
            e.message.ends_with(": no such file or directory"),
            "{}",
            e.message
        );
        // Reading a file opens it again after it was pushed out (f0, by f1 and f2).
        assert_eq!(
            files.read_ranges(&names[0], &mut [(2, &mut buf)]).unwrap(),
            vec![8]
        );
        assert_eq!(buf[..8], [0u8; 8]);
        files.forget(&names[0]);
        assert_eq!(files.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
