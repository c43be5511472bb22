//! Sparse files: finding the holes of a file being backed up ([`segments`]) and leaving holes
//! where restored data is all zeros ([`SparseWriter`]).

use std::os::fd::AsFd;

use rustix::fs::{SeekFrom, fstat, ftruncate, seek};
use rustix::io::{Errno, pwrite};

use super::os_error;
use crate::{Error, Result};

/// The granularity of holes [`SparseWriter`] leaves: zero runs are skipped in aligned blocks of
/// this many bytes.
pub const SPARSE_BLOCK: u64 = 4096;

/// A stretch of a file: data, or a hole that reads as zeros and occupies no blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Where it starts.
    pub offset: u64,
    /// Its length in bytes (never 0).
    pub len: u64,
    /// Data (`true`) or a hole.
    pub data: bool,
}

/// The data and hole segments of the open file `fd`, in order and covering its whole size, found
/// with `SEEK_DATA` / `SEEK_HOLE`. A file system that cannot tell reports one data segment. The
/// file offset is restored afterwards.
pub fn segments(fd: impl AsFd) -> Result<Vec<Segment>> {
    let fd = fd.as_fd();
    let err = |e| os_error(e, "finding holes");
    let size = u64::try_from(fstat(fd).map_err(err)?.st_size).unwrap_or(0);
    let saved = seek(fd, SeekFrom::Current(0)).map_err(err)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < size {
        let data = match seek(fd, SeekFrom::Data(pos)) {
            Ok(d) => d.min(size),
            // No data past `pos`: the rest is a hole.
            Err(Errno::NXIO) => size,
            Err(Errno::INVAL | Errno::NOTSUP) => {
                // No SEEK_DATA here: all data.
                out.clear();
                out.push(Segment {
                    offset: 0,
                    len: size,
                    data: true,
                });
                break;
            }
            Err(e) => return Err(err(e)),
        };
        if data > pos {
            out.push(Segment {
                offset: pos,
                len: data - pos,
                data: false,
            });
        }
        if data >= size {
            break;
        }
        let hole = match seek(fd, SeekFrom::Hole(data)) {
            Ok(h) => h.min(size),
            Err(Errno::NXIO) => size,
            Err(e) => return Err(err(e)),
        };
        // A hole reported at `data` itself would loop; the kernel never does that, but a file
        // changing under us might.
        let hole = hole.max(data + 1);
        out.push(Segment {
            offset: data,
            len: hole - data,
            data: true,
        });
        pos = hole;
    }
    seek(fd, SeekFrom::Start(saved)).map_err(err)?;
    Ok(out)
}

/// Writes a restored file's data at given offsets, leaving holes where the data is zeros: every
/// [`SPARSE_BLOCK`]-aligned block (or the part of one that a write covers) that is all zeros is
/// skipped, and [`SparseWriter::finish`] sets the final size so a trailing hole remains.
///
/// The file must be empty when the writer starts (skipped zeros read back as zeros only there).
/// Writes use `pwrite`, so they may come in any order, and the file offset is not used.
#[derive(Debug)]
pub struct SparseWriter<F: AsFd> {
    fd: F,
    written: u64,
}

impl<F: AsFd> SparseWriter<F> {
    /// A writer for the empty file `fd`; a file that holds data already is refused.
    pub fn new(fd: F) -> Result<Self> {
        let st = fstat(&fd).map_err(|e| os_error(e, "a sparse file"))?;
        if st.st_size != 0 {
            return Err(Error::invalid(format!(
                "a sparse file must start empty, this one has {} bytes",
                st.st_size
            )));
        }
        Ok(Self { fd, written: 0 })
    }

    /// Writes `data` at `offset`, skipping its all-zero blocks.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let mut run: Option<(u64, usize)> = None; // start offset and index of pending non-zero bytes
        let mut at = 0usize;
        while at < data.len() {
            let pos = offset + at as u64;
            // Up to the next block boundary.
            let room = SPARSE_BLOCK - pos % SPARSE_BLOCK;
            let take = usize::try_from(room).map_or(data.len() - at, |r| r.min(data.len() - at));
            let piece = data.get(at..at + take).unwrap_or_default();
            if is_zero(piece) {
                if let Some((start, from)) = run.take() {
                    self.put(start, data.get(from..at).unwrap_or_default())?;
                }
            } else if run.is_none() {
                run = Some((pos, at));
            }
            at += take;
        }
        if let Some((start, from)) = run {
            self.put(start, data.get(from..).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Bytes actually written so far (the rest were zeros left as holes).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Sets the file's size to `size` (so that trailing zeros become a hole) and returns the
    /// descriptor.
    pub fn finish(self, size: u64) -> Result<F> {
        ftruncate(&self.fd, size).map_err(|e| os_error(e, "setting a sparse file's size"))?;
        Ok(self.fd)
    }

    /// `pwrite`s all of `bytes` at `offset`.
    fn put(&mut self, mut offset: u64, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            match pwrite(&self.fd, bytes, offset) {
                Ok(0) => return Err(os_error(Errno::IO, "writing a sparse file: wrote nothing")),
                Ok(n) => {
                    bytes = bytes.get(n..).unwrap_or_default();
                    offset += n as u64;
                    self.written += n as u64;
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(os_error(e, "writing a sparse file")),
            }
        }
        Ok(())
    }
}

/// Whether `bytes` are all zeros (checked 64 bytes at a time, which the compiler vectorises).
fn is_zero(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(64);
    let whole = chunks
        .by_ref()
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0);
    whole && chunks.remainder().iter().all(|&b| b == 0)
}
