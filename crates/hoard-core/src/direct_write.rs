//! Writing a new file's bytes past the page cache (`O_DIRECT`), for packs.
//!
//! A buffered write copies every byte into page-cache pages that the kernel must first find
//! (reclaiming others) and fill; for a first backup that was the largest single cost of the
//! process: about a third of its CPU time went to copying packs into the page cache (`perf`:
//! `copy_folio_from_iter_atomic` under `write`), which no later step reads. With `O_DIRECT` the
//! device reads the bytes from a small aligned bounce buffer instead; copying into that buffer
//! costs a plain `memcpy` of warm memory.
//!
//! Direct I/O needs the memory address, the file offset and the length aligned to the device's
//! block size; [`ALIGN`] (4096) covers every common device. The whole blocks go directly, the
//! tail (less than a block) through the page cache. Where `O_DIRECT` is refused (a file system
//! without it, such as some FUSE ones), or a direct write fails with `EINVAL`, the rest is
//! written through the page cache as before. Durability is unchanged: the caller still fsyncs the
//! file (which also writes its size and the tail).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

mod blocks;

/// The alignment of the bounce buffer, of the file offsets and of the lengths written directly.
pub const ALIGN: usize = 4096;

/// The bounce buffer's size: one direct write. 1 MiB writes reach the device's full speed here
/// (measured with `dd oflag=direct`: 1, 2 and 8 MiB blocks alike).
const BOUNCE: usize = 1 << 20;

/// Full blocks [`DirectWriter::append`] holds at most; it queues older ones at once, so a blob
/// of more than a block queues all but its last block under the caller's lock (a lock wait
/// only while the device is behind), and memory stays a block per appending thread.
const HELD: usize = 1;

/// Bounce buffers kept for later writes; at most [`KEEP`]: one being filled, the blocks held
/// ([`HELD`]) and queued for the writing threads and the ones they write ([`blocks`]), and one
/// for a pack written whole.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const KEEP: usize = 2 + HELD + blocks::QUEUED + blocks::WRITERS;

fn take_bounce() -> Vec<u8> {
    let spare = SPARE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    spare.unwrap_or_else(|| vec![0u8; BOUNCE + ALIGN])
}

fn give_back(buf: Vec<u8>) {
    let mut spare = SPARE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if spare.len() < KEEP {
        spare.push(buf);
    }
}

/// Writes all of `data` to `file` (new and empty), the whole 4 KiB blocks with `O_DIRECT` where
/// the file system takes it, block by block through a bounce buffer as [`blocks`] writes them.
/// Returns how many bytes went directly (a multiple of [`ALIGN`]). The file is left without
/// `O_DIRECT`; the caller fsyncs it.
pub fn write_all(file: &mut File, data: &[u8]) -> std::io::Result<usize> {
    let whole = data.len() - data.len() % ALIGN;
    let mut direct = whole > 0 && set_direct(file, true);
    let mut done = 0;
    let mut sent = 0;
    if direct {
        let mut bounce = Bounce::take();
        while done < whole {
            let n = BOUNCE.min(whole - done);
            let block = &mut bounce.block_mut()[..n];
            block.copy_from_slice(&data[done..done + n]);
            sent += blocks::write_block(file, block, done as u64, &mut direct)?;
            done += n;
        }
        // A refused direct write turned the flag off already.
        if direct && !set_direct(file, false) {
            return Err(std::io::Error::other("could not turn O_DIRECT off again"));
        }
    }
    file.write_all_at(&data[done..], done as u64)?;
    Ok(sent)
}

/// A new file written front to back through aligned buffers of [`BOUNCE`] bytes: each full
/// buffer goes to the file with `O_DIRECT` on the "hoard-pack-io" threads ([`blocks`]), at its
/// offset (a multiple of [`BOUNCE`]), while the caller fills the next; so the file's bytes are
/// never all in memory nor copied into the page cache, and appending never waits for the device
/// unless it is behind by several blocks. [`DirectWriter::write_all`] queues each buffer it
/// fills at once; [`DirectWriter::append`] holds the last one until the caller hands it over
/// ([`DirectWriter::take_ready`]), for a caller that appends under a lock. Where `O_DIRECT` is
/// refused, or a direct write fails with `EINVAL` or writes less, the rest goes through the page
/// cache. Closing does not wait for the device either: the tail (less than a buffer) is queued
/// too, to be written through a second descriptor without `O_DIRECT`, and [`Closing::wait`],
/// called by whoever needs the file whole, waits for every write. A failed write is reported by
/// the next append, by [`DirectWriter::close`], or by [`Closing::wait`]; the caller fsyncs the
/// file. A writer or [`Closing`] dropped instead gives the file up: its blocks not yet written
/// are skipped.
pub struct DirectWriter {
    /// Dropped first: a writer dropped without [`DirectWriter::close`] gives the file up.
    abandon: AbandonOnDrop,
    file: Arc<File>,
    /// The same file without `O_DIRECT`, for the tail.
    tail: Arc<File>,
    bounce: Bounce,
    /// Full blocks counted as pending but not yet queued ([`DirectWriter::append`]).
    ready: Ready,
    /// Bytes waiting in `bounce`.
    filled: usize,
    /// Where `bounce`'s bytes start in the file.
    offset: u64,
    /// Bytes allocated ahead of the writes ([`DirectWriter::reserve`]).
    reserved: u64,
    tracker: Arc<blocks::Tracker>,
}

impl DirectWriter {
    /// Creates the file at `path` (it must not exist) and writes it through bounce buffers.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        // `O_DIRECT` belongs to the open file, so the tail needs a descriptor of its own.
        // Not through a symlink put at the name meanwhile.
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        match OpenOptions::new()
            .write(true)
            .custom_flags(nofollow)
            .open(path)
        {
            Ok(tail) => Ok(Self::with_tail(file, tail)),
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// Writes `file` (new and empty) through bounce buffers, and its tail through `tail`, a second
    /// descriptor of the same file.
    fn with_tail(file: File, tail: File) -> Self {
        let direct = set_direct(&file, true);
        let tracker = blocks::Tracker::new(direct);
        Self {
            abandon: AbandonOnDrop(Some(Arc::clone(&tracker))),
            file: Arc::new(file),
            tail: Arc::new(tail),
            bounce: Bounce::take(),
            ready: Ready(Vec::new()),
            filled: 0,
            offset: 0,
            reserved: 0,
            tracker,
        }
    }

    /// Allocates the file's first `len` bytes (rounded up to a block) ahead of the writes, where
    /// the file system can; [`Closing::wait`] cuts the file back to what was written (it does so
    /// whether the allocation succeeded, failed, or failed part-way). A direct
    /// write into allocated blocks is an overwrite, which ext4 lets go at once with other writes
    /// to the file; a direct write that extends the file takes the file's lock alone and waits
    /// for the device, so the blocks of one pack were written one at a time.
    pub fn reserve(&mut self, len: u64) {
        let len = len.next_multiple_of(BOUNCE as u64);
        if self.offset == 0 {
            // Whether or not it succeeds: one that fails part-way (out of space, over a quota)
            // may leave the file longer than it was, which the close then cuts back too.
            let _ = rustix::fs::fallocate(&*self.file, rustix::fs::FallocateFlags::empty(), 0, len);
            self.reserved = len;
        }
    }

    /// Appends `data`, queueing each block it fills.
    pub fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.append(data)?;
        drop(self.take_ready());
        Ok(())
    }

    /// Appends `data`, holding the blocks it fills (the last [`HELD`]) until
    /// [`DirectWriter::take_ready`] (or the close) hands them over: a caller that appends under a
    /// lock queues them after releasing it, so that waiting for room in the queue does not hold
    /// the lock. Held blocks already count as pending, so a [`Closing`] waits for them whoever
    /// queues them.
    pub fn append(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = (BOUNCE - self.filled).min(data.len());
            self.bounce.block_mut()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == BOUNCE {
                self.hold_block()?;
            }
        }
        Ok(())
    }

    /// The blocks [`DirectWriter::append`] filled since the last call; dropping them queues them.
    pub fn take_ready(&mut self) -> Ready {
        Ready(std::mem::take(&mut self.ready.0))
    }

    /// Holds the full buffer as a pending block and takes a fresh one; fails with the error of
    /// an earlier block's write, if one failed.
    fn hold_block(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.tracker.take_error() {
            return Err(e);
        }
        self.tracker.add_pending();
        // A blob larger than the blocks held fills more: the oldest go now, so that memory stays
        // a few blocks per worker.
        if self.ready.0.len() >= HELD {
            blocks::submit(self.ready.0.remove(0));
        }
        self.ready.0.push(blocks::Block {
            file: Arc::clone(&self.file),
            bounce: std::mem::replace(&mut self.bounce, Bounce::take()),
            len: BOUNCE,
            buffered: false,
            offset: self.offset,
            tracker: Arc::clone(&self.tracker),
        });
        self.offset += BOUNCE as u64;
        self.filled = 0;
        Ok(())
    }

    /// Queues what is left in the buffer, to be written through the page cache at its place
    /// after the full blocks (which may still be on their way); [`Closing::wait`] waits for all
    /// of them. Fails with the error of a block's write that failed already.
    pub fn close(mut self) -> std::io::Result<Closing> {
        self.abandon.0 = None;
        drop(self.take_ready());
        if let Some(e) = self.tracker.take_error() {
            return Err(e);
        }
        // Not written here: ext4 makes a buffered write that extends a file wait for the direct
        // writes in flight to it (a `/usr/lib` first create's workers waited 0.9 s in all).
        if self.filled > 0 {
            self.tracker.add_pending();
            blocks::submit(blocks::Block {
                file: Arc::clone(&self.tail),
                bounce: self.bounce,
                len: self.filled,
                buffered: true,
                offset: self.offset,
                tracker: Arc::clone(&self.tracker),
            });
        }
        Ok(Closing {
            file: Some(self.tail),
            len: self.offset + self.filled as u64,
            reserved: self.reserved,
            tracker: self.tracker,
        })
    }
}

/// Full blocks of a [`DirectWriter`] not yet queued for the writing threads (see
/// [`DirectWriter::append`]); dropping them queues them.
pub struct Ready(Vec<blocks::Block>);

impl Ready {
    /// No blocks (for a pack built in memory).
    pub fn none() -> Self {
        Self(Vec::new())
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        for block in self.0.drain(..) {
            if block.tracker.is_abandoned() {
                // Skipped at once: counted done without waiting for room in the queue.
                block.write();
            } else {
                blocks::submit(block);
            }
        }
    }
}

/// A file whose writes may still be queued (see [`DirectWriter::close`]).
///
/// Dropped without [`Closing::wait`], it gives the file up: its writes still queued are skipped.
pub struct Closing {
    /// `None` once waited for.
    file: Option<Arc<File>>,
    /// The bytes written.
    len: u64,
    /// The bytes allocated ahead; the file is cut back to `len` if more.
    reserved: u64,
    tracker: Arc<blocks::Tracker>,
}

impl Closing {
    /// Waits until every write is done and returns the file (not yet fsynced); fails with the
    /// first failed write's error.
    pub fn wait(mut self) -> std::io::Result<File> {
        let file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("the file was waited for already"))?;
        self.tracker.wait_all()?;
        // Every queued write dropped its reference to the file before it counted as done.
        let file = Arc::try_unwrap(file).or_else(|shared| shared.try_clone())?;
        if self.reserved > self.len {
            file.set_len(self.len)?;
        }
        Ok(file)
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.tracker.abandon();
        }
    }
}

/// Gives a file up ([`blocks::Tracker::abandon`]) when dropped armed: a [`DirectWriter`] dropped
/// without being closed (a pack given up) leaves its held and queued blocks unwritten, and does
/// not wait for room in the queue for them.
struct AbandonOnDrop(Option<Arc<blocks::Tracker>>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(tracker) = self.0.take() {
            tracker.abandon();
        }
    }
}

/// A bounce buffer: [`BOUNCE`] bytes at an address aligned to [`ALIGN`], given back for later
/// writes when dropped.
pub(crate) struct Bounce {
    buf: Vec<u8>,
    /// Where the aligned block starts in `buf`.
    at: usize,
}

impl Bounce {
    /// A kept buffer, or a new one.
    fn take() -> Self {
        let buf = take_bounce();
        // `buf` has ALIGN bytes to spare, so an aligned block of BOUNCE bytes starts in them.
        let at = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self { buf, at }
    }

    /// The aligned block.
    pub(crate) fn block(&self) -> &[u8] {
        &self.buf[self.at..self.at + BOUNCE]
    }

    fn block_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.at..self.at + BOUNCE]
    }
}

impl Drop for Bounce {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(target_os = "linux")]
pub(crate) const EINVAL: i32 = rustix::io::Errno::INVAL.raw_os_error();
#[cfg(not(target_os = "linux"))]
pub(crate) const EINVAL: i32 = 22;

/// Turns `O_DIRECT` on or off for `file`; false where that is refused (or not Linux).
#[cfg(target_os = "linux")]
pub(crate) fn set_direct(file: &File, on: bool) -> bool {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let Ok(flags) = fcntl_getfl(file) else {
        return false;
    };
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    fcntl_setfl(file, flags).is_ok()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set_direct(_file: &File, on: bool) -> bool {
    !on
}

/// Test folders on each kind of file system at hand, for the tests of direct writes (here and in
/// `restore::output`): one beside the build's output (a disk file system, where `O_DIRECT` works
/// on Linux), one in the system's temporary folder, and one in `/dev/shm` (tmpfs, which refuses
/// `O_DIRECT` on older kernels) where it exists.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) fn test_dirs(name: &str) -> Vec<std::path::PathBuf> {
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let shm = std::path::Path::new("/dev/shm");
    [target, std::env::temp_dir()]
        .into_iter()
        .chain(shm.is_dir().then(|| shm.to_path_buf()))
        .map(|base| {
            let d = base.join(format!("hoard-direct-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).expect("a test folder");
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_round_trips_and_only_whole_blocks_go_directly() {
        let lengths = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BOUNCE - 1,
            BOUNCE,
            BOUNCE + ALIGN,
            3 * BOUNCE + 12_345,
        ];
        for d in test_dirs("lengths") {
            for (i, &len) in lengths.iter().enumerate() {
                let data: Vec<u8> = (0..len).map(|j| (j * 31 % 251) as u8 ^ i as u8).collect();
                // An unaligned start, as a pack's Vec has.
                let mut shifted = vec![0u8; 1];
                shifted.extend_from_slice(&data);
                let path = d.join(format!("f{i}"));
                let mut file = File::create_new(&path).expect("ok");
                let direct = write_all(&mut file, &shifted[1..]).expect("ok");
                file.sync_all().expect("ok");
                drop(file);
                assert_eq!(direct % ALIGN, 0);
                assert!(direct <= len - len % ALIGN);
                assert_eq!(std::fs::read(&path).expect("ok"), data, "length {len}");
            }
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_disk_file_system_takes_the_whole_blocks_directly() {
        let d = &test_dirs("disk")[0];
        let len = 2 * BOUNCE + 3 * ALIGN + 7;
        let data: Vec<u8> = (0..len).map(|j| (j % 253) as u8).collect();
        let path = d.join("f");
        let mut file = File::create_new(&path).expect("ok");
        // Only where the file system accepts the flag at all (a disk file system does).
        let probe = set_direct(&file, true) && set_direct(&file, false);
        let direct = write_all(&mut file, &data).expect("ok");
        drop(file);
        if probe {
            assert_eq!(direct, len - len % ALIGN);
        }
        assert_eq!(std::fs::read(&path).expect("ok"), data);
        std::fs::remove_dir_all(d).expect("ok");
    }

    #[test]
    fn a_direct_writer_keeps_pieces_of_any_size_in_order() {
        for d in test_dirs("writer") {
            let sizes = [
                0,
                1,
                7,
                ALIGN - 3,
                BOUNCE,
                5,
                BOUNCE - 1,
                2 * BOUNCE + 11,
                ALIGN,
                3,
            ];
            let mut expected = Vec::new();
            let path = d.join("f");
            let mut w = DirectWriter::create(&path).expect("ok");
            for (i, &n) in sizes.iter().enumerate() {
                let piece: Vec<u8> = (0..n).map(|j| (j * 13 + i) as u8).collect();
                w.write_all(&piece).expect("ok");
                expected.extend_from_slice(&piece);
            }
            let file = w.close().and_then(Closing::wait).expect("ok");
            file.sync_all().expect("ok");
            drop(file);
            assert_eq!(std::fs::read(&path).expect("ok"), expected);
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[test]
    fn a_reserved_file_is_cut_back_to_what_was_written() {
        for d in test_dirs("reserved") {
            // Less than reserved, ending inside a block and on one; more than reserved; nothing.
            for (reserve, len) in [
                (8 * BOUNCE, 3 * BOUNCE + 5),
                (4 * BOUNCE, 2 * BOUNCE),
                (BOUNCE, 3 * BOUNCE + 7),
                (2 * BOUNCE, 0),
            ] {
                let path = d.join(format!("f{reserve}-{len}"));
                let mut w = DirectWriter::create(&path).expect("ok");
                w.reserve(reserve as u64);
                let data: Vec<u8> = (0..len).map(|j| (j * 7 + j / 4096) as u8).collect();
                for piece in data.chunks(300_001) {
                    w.write_all(piece).expect("ok");
                }
                let file = w.close().and_then(Closing::wait).expect("ok");
                assert_eq!(file.metadata().expect("ok").len(), len as u64, "{d:?}");
                drop(file);
                assert!(std::fs::read(&path).expect("ok") == data, "{d:?} {len}");
            }
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[test]
    fn writers_on_several_threads_each_get_their_own_bytes() {
        for d in test_dirs("threads") {
            std::thread::scope(|scope| {
                for t in 0..4u8 {
                    let d = &d;
                    scope.spawn(move || {
                        let path = d.join(format!("f{t}"));
                        let mut w = DirectWriter::create(&path).expect("ok");
                        let mut expected = Vec::new();
                        for i in 0..40usize {
                            let n = (i * 97_531 + usize::from(t) * 13) % (BOUNCE / 2) + 1;
                            let piece: Vec<u8> = (0..n)
                                .map(|j| (j as u8).wrapping_mul(t + 3) ^ i as u8)
                                .collect();
                            w.write_all(&piece).expect("ok");
                            expected.extend_from_slice(&piece);
                        }
                        drop(w.close().and_then(Closing::wait).expect("ok"));
                        assert_eq!(std::fs::read(&path).expect("ok"), expected, "file {t}");
                    });
                }
            });
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[test]
    fn a_close_waits_for_blocks_another_thread_still_holds() {
        for d in test_dirs("held") {
            let path = d.join("f");
            let data: Vec<u8> = (0..3 * BOUNCE + 777).map(|j| (j % 241) as u8).collect();
            let mut w = DirectWriter::create(&path).expect("ok");
            w.append(&data).expect("ok");
            // As a worker that pushed a blob under the pack's lock: it holds the blocks it
            // filled while another worker closes the pack.
            let held = w.take_ready();
            let closing = w.close().expect("ok");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                tx.send(()).expect("ok");
                drop(held);
            });
            let file = closing.wait().expect("ok");
            assert!(
                rx.try_recv().is_ok(),
                "the wait ended before the held blocks were queued"
            );
            drop(file);
            assert_eq!(std::fs::read(&path).expect("ok"), data);
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[test]
    fn a_writer_dropped_without_closing_leaves_its_held_block_unwritten() {
        for d in test_dirs("dropped") {
            let path = d.join("f");
            let mut w = DirectWriter::create(&path).expect("ok");
            w.append(&vec![9u8; 3 * BOUNCE]).expect("ok");
            // The third block is held (as by a worker between the pack's lock and the queue)
            // when the pack is given up.
            let held = w.take_ready();
            let tracker = Arc::clone(&w.tracker);
            drop(w);
            drop(held);
            // Every block is done with (written or skipped) once nothing is pending.
            let _ = tracker.wait_all();
            // The queued blocks may be written or skipped; the held one, at 2 MiB, is skipped.
            let len = std::fs::metadata(&path).expect("ok").len();
            assert!(len <= 2 * BOUNCE as u64, "{len} bytes");
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }

    #[test]
    fn a_failed_block_write_is_reported() {
        for d in test_dirs("fails") {
            let path = d.join("f");
            File::create_new(&path).expect("ok");
            // The blocks' descriptor is opened for reading only: every write of a block fails
            // (EBADF), while the tail's succeeds, so the failure comes from the queued writes.
            let tail = OpenOptions::new().write(true).open(&path).expect("ok");
            let mut w = DirectWriter::with_tail(File::open(&path).expect("ok"), tail);
            let block = vec![7u8; BOUNCE];
            let appended = (0..3).try_for_each(|_| w.write_all(&block));
            let outcome = appended.and_then(|()| w.close().and_then(Closing::wait).map(drop));
            assert!(outcome.is_err());
            std::fs::remove_dir_all(&d).expect("ok");
        }
    }
}
