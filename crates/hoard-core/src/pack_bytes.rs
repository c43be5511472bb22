//! A finished pack's bytes, held outside JavaScript until they are written to a file or taken.
//!
//! A backup hands each finished pack to its caller, which stores it through a storage backend. A
//! local backend only needs the bytes in a temporary file of its choosing, which
//! [`PackBytes::write_to`] makes without the bytes ever becoming a JavaScript buffer: a pack built
//! in memory is written there and its buffer freed as soon as the file is durable; a pack built
//! in a staging file ([`crate::pack::StagedPack`]) is renamed there and fsynced. A backend that
//! sends bytes elsewhere takes them with [`PackBytes::take`]. Either way the bytes are handed over
//! once: afterwards the holder is empty.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::pack::StagedPack;

/// A pack's bytes: in memory, or in its staging file.
enum Held {
    Memory(Vec<u8>),
    File(StagedPack),
}

/// A pack's bytes until they are written or taken (see the module docs).
pub struct PackBytes {
    data: Mutex<Option<Held>>,
}

impl PackBytes {
    /// Holds `data`.
    pub fn new(data: Vec<u8>) -> Self {
        Self {
            data: Mutex::new(Some(Held::Memory(data))),
        }
    }

    /// Holds the pack in `file` (removed if it is dropped without being written or taken).
    pub fn staged(file: StagedPack) -> Self {
        Self {
            data: Mutex::new(Some(Held::File(file))),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<Held>> {
        // Every critical section only moves the whole value in or out.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bytes, leaving the holder empty; an error if they were taken or are being written.
    pub fn take(&self) -> Result<Vec<u8>> {
        match self.slot().take().ok_or_else(gone)? {
            Held::Memory(data) => Ok(data),
            Held::File(file) => file.into_bytes(),
        }
    }

    /// Whether the bytes are still held (neither taken, written, nor being written).
    pub fn is_held(&self) -> bool {
        self.slot().is_some()
    }

    /// Puts the bytes in a new file at `path` (mode 0600; an existing file is an error) and
    /// fsyncs it: a staged pack's file is renamed there, a pack in memory is written there and
    /// its buffer given to a later pack ([`crate::pack::recycle`]). If that fails, nothing is
    /// left at `path` and the bytes are held again, so that the caller may try elsewhere.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        let held = self.slot().take().ok_or_else(gone)?;
        match held {
            Held::Memory(data) => match write_new(path, &data) {
                Ok(()) => {
                    crate::pack::recycle(data);
                    Ok(())
                }
                Err(e) => {
                    *self.slot() = Some(Held::Memory(data));
                    Err(e)
                }
            },
            Held::File(file) => file.move_to(path).map_err(|(file, e)| {
                *self.slot() = Some(Held::File(file));
                e
            }),
        }
    }
}

fn gone() -> Error {
    Error::invalid("the pack's bytes were already taken or written")
}

/// Creates `path` (it must not exist), writes `data` and fsyncs it; on failure removes what it
/// created.
pub(crate) fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let mut file: File = options.open(path).map_err(|e| Error::io(path, &e))?;
    // Past the page cache where the file system allows (see `direct_write`).
    let written = crate::direct_write::write_all(&mut file, data).and_then(|_| file.sync_all());
    drop(file);
    written.map_err(|e| {
        let _ = std::fs::remove_file(path);
        Error::io(path, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hoard-packbytes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("ok");
        d
    }

    #[test]
    fn write_to_makes_a_file_with_the_bytes_and_empties_the_holder() {
        let d = dir("write");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let held = PackBytes::new(data.clone());
        let path = d.join("pack");
        held.write_to(&path).expect("ok");
        // Its mode is 0666 less the umask (borg's `--umask`; the CLI's tests check it).
        assert_eq!(std::fs::read(&path).expect("ok"), data);
        assert!(!held.is_held());
        assert_eq!(
            held.take().expect_err("an error").kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            held.write_to(&d.join("again")).expect_err("an error").kind,
            ErrorKind::InvalidArgument
        );
        assert!(!d.join("again").exists());
        std::fs::remove_dir_all(&d).expect("ok");
    }

    #[test]
    fn a_failed_write_keeps_the_bytes_and_leaves_no_file() {
        let d = dir("fail");
        let held = PackBytes::new(b"pack bytes".to_vec());
        // An existing file is not overwritten.
        let taken = d.join("taken");
        std::fs::write(&taken, b"other").expect("ok");
        assert_eq!(
            held.write_to(&taken).expect_err("an error").kind,
            ErrorKind::Io
        );
        assert_eq!(std::fs::read(&taken).expect("ok"), b"other");
        // A missing folder.
        let missing = d.join("no-such-folder").join("pack");
        assert_eq!(
            held.write_to(&missing).expect_err("an error").kind,
            ErrorKind::NotFound
        );
        assert!(held.is_held());
        assert_eq!(held.take().expect("ok"), b"pack bytes");
        assert!(!held.is_held());
        std::fs::remove_dir_all(&d).expect("ok");
    }

    #[test]
    fn an_empty_pack_writes_an_empty_file() {
        let d = dir("empty");
        let held = PackBytes::new(Vec::new());
        held.write_to(&d.join("empty")).expect("ok");
        assert_eq!(std::fs::read(d.join("empty")).expect("ok").len(), 0);
        std::fs::remove_dir_all(&d).expect("ok");
    }

    #[test]
    fn a_staged_pack_is_moved_whole_and_an_unwritten_one_leaves_no_file() {
        use crate::envelope::{Opener, Session};
        use crate::pack::{PackBuilder, TRAILER_LEN, read_toc};
        let toc_len = |pack: &[u8]| {
            let t = &pack[pack.len() - TRAILER_LEN..];
            u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
        };
        let d = dir("staged");
        let staging = d.join("staging");
        let suite = crate::keys::Suite::Aes256Gcm;
        let session = Session::new(suite, &[9; 32]).expect("session");
        let build = |id: u8| {
            let mut in_memory = PackBuilder::new([id; 32], 1 << 20);
            let mut staged = PackBuilder::staged([id; 32], &staging, 1 << 20).expect("staged");
            for (i, len) in [10usize, 3 << 20, 4096, 1].into_iter().enumerate() {
                let blob: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
                let a = in_memory.push(0, &[i as u8; 32], len as u32, &[&blob[..1], &blob[1..]]);
                let b = staged.push(0, &[i as u8; 32], len as u32, &[&blob[..1], &blob[1..]]);
                assert_eq!(a.expect("push"), b.expect("push"));
            }
            (
                in_memory.finish(&session).expect("finish"),
                staged.finish(&session),
            )
        };
        let (memory, staged) = build(1);
        let staged = staged.expect("finish");
        assert!(staged.data.is_empty());
        assert_eq!(staged.size(), memory.data.len());
        let held = PackBytes::staged(staged.file.expect("a staging file"));
        let path = d.join("pack");
        held.write_to(&path).expect("ok");
        assert!(!held.is_held());
        let bytes = std::fs::read(&path).expect("ok");
        let opener = Opener::new(suite, &[9; 32]);
        assert_eq!(
            read_toc(&opener, &[1; 32], &bytes).expect("toc"),
            memory.entries
        );
        // Only the moved pack is left: nothing in the staging folder.
        assert_eq!(std::fs::read_dir(&staging).expect("ok").count(), 0);
        // Packs dropped before they are written (a failed backup) remove their files.
        let (_, staged) = build(2);
        drop(PackBytes::staged(
            staged.expect("finish").file.expect("file"),
        ));
        let unfinished = PackBuilder::staged([3; 32], &staging, 0).expect("staged");
        assert_eq!(std::fs::read_dir(&staging).expect("ok").count(), 1);
        drop(unfinished);
        assert_eq!(std::fs::read_dir(&staging).expect("ok").count(), 0);
        // A staged pack taken as bytes (a remote backend) is read whole.
        let (memory, staged) = build(4);
        let held = PackBytes::staged(staged.expect("finish").file.expect("file"));
        let bytes = held.take().expect("bytes");
        // The same blobs at the same places (the tables' seals differ: each has its own nonce).
        let blobs_end = memory.data.len() - TRAILER_LEN - toc_len(&memory.data);
        assert_eq!(bytes.len(), memory.data.len());
        assert_eq!(&bytes[..blobs_end], &memory.data[..blobs_end]);
        assert_eq!(
            read_toc(&opener, &[4; 32], &bytes).expect("toc"),
            memory.entries
        );
        assert_eq!(std::fs::read_dir(&staging).expect("ok").count(), 0);
        std::fs::remove_dir_all(&d).expect("ok");
    }
}
