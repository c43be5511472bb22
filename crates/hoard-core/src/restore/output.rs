//! Where a worker opens the chunks it restores, and how their bytes reach the file.
//!
//! Each worker keeps two buffers for the whole extract ([`Scratch`]): one that a sealed chunk is
//! opened in and one it is decompressed into. An lz4 chunk (the default codec's) is decompressed
//! in the first ([`Reused::lz4_in_place`]), so the second is used only by the other codecs. Fresh
//! buffers per chunk were mapped and faulted in page by page (and zeroed) for every chunk of 4 MiB
//! or more, and trimmed back to the system below that; reused ones cost nothing per chunk once
//! they have grown to the largest chunk.
//!
//! A chunk of at least [`DIRECT_MIN`] bytes is written past the page cache where the file system
//! allows it: its whole 4 KiB blocks with `O_DIRECT` straight from the buffer it was opened or
//! decompressed in (placed so that its bytes lie at the same offset within a block in memory as
//! in the file), its partial first and last blocks through the page cache. Copying restored data
//! into fresh page-cache pages was the largest single cost of extracting large files, and it is
//! data no later step of the extract reads. Where `O_DIRECT` is refused, or a direct write fails
//! with `EINVAL` or writes less, the rest of the file goes through the page cache as before.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::codec;
use crate::direct_write::{ALIGN, EINVAL, set_direct};
use crate::error::Error;

/// Chunks at least this long are written with `O_DIRECT` where that works: the chunks of large
/// files (the default chunker cuts at least 512 KiB), not small files, whose direct writes would
/// each wait for the device. 256 KiB was tried (medium files and every chunk of a large file
/// direct): the same system time on a quiet disk, more wall time on a busy one (see
/// benchmarks/README.md).
pub const DIRECT_MIN: usize = 1 << 20;

/// A worker's buffers for opening chunks, grown to the largest chunk and reused.
#[derive(Default)]
pub struct Scratch {
    /// The sealed blob's body, opened in place; an lz4 chunk is decompressed here too.
    pub sealed: Reused,
    /// The chunk decompressed, for codecs other than lz4.
    pub plain: Reused,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `f` with this thread's [`Scratch`] (a new one if it is in use further up the stack).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Uses in a row that needed less than a quarter of a buffer of more than [`KEEP_SMALL`] bytes
/// after which it is freed: an extract that has gone on from large files to small ones does not
/// keep chunk-sized buffers for nothing, while a large file's small last chunk does not free them.
const IDLE_USES: u32 = 64;
/// Buffers up to this size are kept however they are used.
const KEEP_SMALL: usize = 1 << 20;

/// A buffer reused chunk after chunk (see [`Reused::aligned`]).
#[derive(Default)]
pub struct Reused {
    buf: Vec<u8>,
    /// Uses in a row that needed less than a quarter of `buf`.
    idle: u32,
    /// Where in `buf` the bytes [`Reused::aligned`] last handed out start.
    at: usize,
    /// How many bytes it handed out.
    len: usize,
}

impl Reused {
    /// `len` bytes that start `skew` bytes past a multiple of [`ALIGN`] in memory; the buffer
    /// grows (exactly, zero-filled) when it is too short, and is freed after [`IDLE_USES`] uses
    /// in a row that needed less than a quarter of it.
    pub fn aligned(&mut self, skew: usize, len: usize) -> &mut [u8] {
        let need = len + skew % ALIGN + ALIGN;
        if self.buf.len() > KEEP_SMALL && need < self.buf.len() / 4 {
            self.idle += 1;
            if self.idle >= IDLE_USES {
                self.buf = Vec::new();
                self.idle = 0;
            }
        } else {
            self.idle = 0;
        }
        self.at = place(&mut self.buf, skew, len);
        self.len = len;
        &mut self.buf[self.at..self.at + len]
    }

    /// The bytes [`Reused::aligned`] last handed out, as the caller left them.
    pub fn placed(&self) -> &[u8] {
        &self.buf[self.at..self.at + self.len]
    }

    /// Decompresses the lz4 frame of `frame` bytes that starts the bytes [`Reused::aligned`] last
    /// handed out, in place ([`codec::lz4_in_place`]), to the `len` bytes it declares; they start
    /// at the same offset within a block in memory as the frame's data did, so a chunk opened for
    /// file offset `at` can still be written directly. The buffer grows (exactly) to hold them and
    /// liblz4's margin; the frame's payload is moved to the end of that room first.
    pub fn lz4_in_place(&mut self, frame: usize, len: usize) -> Result<&[u8], Error> {
        let data = self.at + codec::FRAME_HEADER_LEN;
        let payload = frame.saturating_sub(codec::FRAME_HEADER_LEN);
        if frame > self.len || payload >= len {
            return Err(Error::invalid(format!(
                "an lz4 frame of {frame} bytes for {len} cannot be decompressed in place"
            )));
        }
        let skew = (self.buf.as_ptr() as usize + data) % ALIGN;
        let room = len + codec::lz4_in_place_margin(len);
        // Growing may move the buffer to another offset within a block: the room is placed at
        // `skew` after it, and the payload (at the same index) moved there.
        let start = place(&mut self.buf, skew, room);
        if room > self.buf.len() / 4 {
            self.idle = 0;
        }
        self.buf
            .copy_within(data..data + payload, start + room - payload);
        let region = &mut self.buf[start..start + room];
        codec::lz4_in_place(region, payload, len)?;
        self.at = start;
        self.len = len;
        Ok(&self.buf[start..start + len])
    }
}

/// `len` bytes of `buf` that start `skew` bytes past a multiple of [`ALIGN`] in memory; `buf`
/// grows (exactly, zero-filled) when it is too short, and is never shrunk.
#[cfg(test)]
fn aligned(buf: &mut Vec<u8>, skew: usize, len: usize) -> &mut [u8] {
    let start = place(buf, skew, len);
    &mut buf[start..start + len]
}

/// Where [`aligned`] places `len` bytes at `skew` in `buf`, after growing it as needed.
fn place(buf: &mut Vec<u8>, skew: usize, len: usize) -> usize {
    let need = len + skew % ALIGN + ALIGN;
    if buf.len() < need {
        buf.reserve_exact(need - buf.len());
        buf.resize(need, 0);
    }
    buf.as_ptr().align_offset(ALIGN).min(ALIGN - 1) + skew % ALIGN
}

/// The offset within a block of file position `at`.
pub fn skew_of(at: u64) -> usize {
    (at % ALIGN as u64) as usize
}

/// A file being restored, written at given offsets; whole blocks of long writes go directly.
pub struct Output<'f> {
    file: &'f File,
    /// Whether the file is in `O_DIRECT` mode now.
    direct: bool,
    /// Whether direct writes were refused for this file.
    refused: bool,
}

impl<'f> Output<'f> {
    /// Writes to `file` (opened without `O_DIRECT`).
    pub fn new(file: &'f File) -> Self {
        Self {
            file,
            direct: false,
            refused: false,
        }
    }

    /// Writes `data` at `at`. When `data` is at least [`DIRECT_MIN`] long and lies in memory at
    /// the same offset within a block as `at` (see [`aligned`]), its whole blocks go directly.
    pub fn write(&mut self, data: &[u8], at: u64) -> std::io::Result<()> {
        let head = (ALIGN - skew_of(at)) % ALIGN;
        let lined_up = (data.as_ptr() as usize) % ALIGN == skew_of(at);
        if self.refused || data.len() < DIRECT_MIN.max(head + ALIGN) || !lined_up {
            return self.buffered(data, at);
        }
        let whole = (data.len() - head) / ALIGN * ALIGN;
        self.buffered(&data[..head], at)?;
        let done = self.direct(&data[head..head + whole], at + head as u64)?;
        self.buffered(&data[head + done..], at + (head + done) as u64)
    }

    /// Writes through the page cache.
    fn buffered(&mut self, data: &[u8], at: u64) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.direct {
            if !set_direct(self.file, false) {
                return Err(std::io::Error::other("could not turn O_DIRECT off again"));
            }
            self.direct = false;
        }
        self.file.write_all_at(data, at)
    }

    /// Writes whole blocks directly; returns how many bytes went (fewer where direct writes are
    /// refused, after which the file is written through the page cache).
    fn direct(&mut self, data: &[u8], at: u64) -> std::io::Result<usize> {
        if !self.direct {
            if !set_direct(self.file, true) {
                self.refused = true;
                return Ok(0);
            }
            self.direct = true;
        }
        let mut done = 0;
        while done < data.len() {
            match self.file.write_at(&data[done..], at + done as u64) {
                Ok(k) if k == data.len() - done => done = data.len(),
                Ok(k) => {
                    done += k;
                    self.refused = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(EINVAL) => {
                    self.refused = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    #[test]
    fn writes_at_any_offset_and_alignment_are_exact() {
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        for dir in crate::direct_write::test_dirs("output") {
            let path = dir.join("f");
            let file = std::fs::File::create(&path).expect("create");
            let mut out = Output::new(&file);
            let mut buf = Vec::new();
            // Lined up with the offset (whole blocks go directly), then not lined up (all
            // through the page cache), then two short ones (below `DIRECT_MIN`, so through the
            // page cache too), at offsets inside blocks.
            let places = [
                (0u64, 1_500_001usize),
                (1_500_001, 1_200_000),
                (2_700_001, 99_999),
                (2_800_000, 200_000),
            ];
            for (i, &(at, len)) in places.iter().enumerate() {
                let skew = if i == 1 { skew_of(at) + 1 } else { skew_of(at) };
                let room = aligned(&mut buf, skew, len);
                room.copy_from_slice(&data[at as usize..at as usize + len]);
                out.write(room, at).expect("write");
            }
            // A buffered write after direct ones, overwriting inside the file.
            out.write(&data[10..20], 10).expect("rewrite");
            drop(file);
            let got = std::fs::read(&path).expect("read");
            assert!(got == data, "{dir:?}: contents differ");
            std::fs::remove_dir_all(&dir).expect("clean up");
        }
    }

    #[test]
    fn direct_writes_start_at_direct_min() {
        for dir in crate::direct_write::test_dirs("output-min") {
            let file = std::fs::File::create(dir.join("f")).expect("create");
            let mut out = Output::new(&file);
            let mut buf = Vec::new();
            let room = aligned(&mut buf, 0, DIRECT_MIN - ALIGN);
            room.fill(1);
            out.write(room, 0).expect("write");
            assert!(!out.direct, "{dir:?}: a short write went directly");
            let at = (DIRECT_MIN - ALIGN) as u64;
            let room = aligned(&mut buf, 0, DIRECT_MIN);
            room.fill(2);
            out.write(room, at).expect("write");
            // Directly, unless this file system refuses `O_DIRECT`.
            assert!(
                out.direct || out.refused,
                "{dir:?}: a long write went buffered"
            );
            drop(file);
            let got = std::fs::read(dir.join("f")).expect("read");
            assert_eq!(got.len(), 2 * DIRECT_MIN - ALIGN);
            assert!(got[..DIRECT_MIN - ALIGN].iter().all(|&b| b == 1));
            assert!(got[DIRECT_MIN - ALIGN..].iter().all(|&b| b == 2));
            std::fs::remove_dir_all(&dir).expect("clean up");
        }
    }

    #[test]
    fn aligned_slices_lie_at_their_skew_and_grow_exactly() {
        let mut buf = Vec::new();
        for (skew, len) in [(0, 10), (4095, 8192), (17, 1 << 20), (4096 + 5, 3)] {
            let s = aligned(&mut buf, skew, len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as usize % ALIGN, skew % ALIGN);
        }
        assert_eq!(buf.len(), (1 << 20) + 17 + ALIGN);
    }

    #[test]
    fn lz4_frames_decompress_in_place_at_their_datas_offset_within_a_block() {
        let mut r = Reused::default();
        // Growing and not, at skews below and above the frame header's length.
        let cases = [
            (0, 100_000),
            (4095, 3 << 20),
            (17, 1000),
            (5, 8 << 20),
            (6, 5000),
        ];
        for (skew, len) in cases {
            let data: Vec<u8> = (0..len).map(|i| (i / 7 % 251) as u8).collect();
            let frame = codec::compress(codec::Codec::Lz4, &data).expect("compress");
            assert!(codec::lz4_fits_in_place(&frame, len));
            // Placed as `open_chunk` places a frame: its data at `skew` within a block.
            let room = r.aligned(skew + ALIGN - codec::FRAME_HEADER_LEN, frame.len() + 16);
            room[..frame.len()].copy_from_slice(&frame);
            let out = r.lz4_in_place(frame.len(), len).expect("in place");
            assert_eq!(out.as_ptr() as usize % ALIGN, skew, "skew {skew}");
            assert!(out == &data[..], "{len} bytes at skew {skew}");
            let at = out.as_ptr();
            assert_eq!(r.placed().as_ptr(), at);
        }
        // Grown to the largest output and its margin, not to twice anything.
        assert!(
            r.buf.len() < (8 << 20) + (8 << 20) / 128 + 3 * ALIGN,
            "{}",
            r.buf.len()
        );
        // A frame longer than what was placed, or no shorter than its output, is refused.
        r.aligned(0, 100);
        for (frame, len) in [(101, 1000), (100, 94)] {
            let e = r.lz4_in_place(frame, len).expect_err("refused");
            assert_eq!(
                e.kind,
                crate::error::ErrorKind::InvalidArgument,
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn a_large_buffer_is_freed_after_many_small_uses_in_a_row_only() {
        let mut r = Reused::default();
        r.aligned(0, 8 << 20);
        let large = r.buf.len();
        // A large file's small last chunk now and then keeps the buffer.
        for _ in 0..3 {
            for _ in 0..IDLE_USES - 1 {
                r.aligned(0, 1000);
            }
            r.aligned(0, 3 << 20);
        }
        assert_eq!(r.buf.len(), large);
        for _ in 0..IDLE_USES {
            assert_eq!(r.aligned(7, 1000).len(), 1000);
        }
        assert!(r.buf.len() < 8192, "{}", r.buf.len());
    }
}
