//! Content-defined and fixed-size chunkers, with borg's parameter syntax.
//!
//! A chunker is fed the chunk in progress, from its first byte, through [`Chunker::find_cut`]; the
//! buffer only grows between calls until a cut is returned, so a caller may read input in pieces of
//! any size and still get the same cut points (the streaming property, tested below and in
//! `pipeline`). Tables are derived from a 32-byte secret seed, so boundaries differ per repository.

mod buzhash;
mod fastcdc;
mod fixed;
mod params;
mod table;

pub use params::ChunkerParams;

use buzhash::Buzhash;
use fastcdc::FastCdc;
use fixed::Fixed;

/// A chunker of any algorithm, ready to cut one stream.
#[derive(Clone)]
pub struct Chunker {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Buzhash(Buzhash),
    FastCdc(FastCdc),
    Fixed(Fixed),
}

impl Chunker {
    /// A chunker for `params`, its tables derived from `seed`.
    pub fn new(params: &ChunkerParams, seed: &[u8; 32]) -> Self {
        let inner = match *params {
            ChunkerParams::Buzhash {
                min_exp,
                max_exp,
                mask_bits,
                window,
            } => Inner::Buzhash(Buzhash::new(min_exp, max_exp, mask_bits, window, seed)),
            ChunkerParams::FastCdc {
                min_exp,
                max_exp,
                mask_bits,
                nc_level,
            } => Inner::FastCdc(FastCdc::new(min_exp, max_exp, mask_bits, nc_level, seed)),
            ChunkerParams::Fixed {
                block_size,
                header_size,
            } => Inner::Fixed(Fixed::new(block_size, header_size)),
        };
        Self { inner }
    }

    /// The largest chunk this chunker emits.
    pub fn max_size(&self) -> usize {
        match &self.inner {
            Inner::Buzhash(c) => c.max_size(),
            Inner::FastCdc(c) => c.max_size(),
            Inner::Fixed(c) => c.max_size(),
        }
    }

    /// Looks for the end of the chunk that starts at `buf[0]`.
    ///
    /// Returns `Some(len)` when the chunk is `buf[..len]`; `None` when more input is needed (never
    /// when `eof`, except for an empty `buf`). Between calls that return `None` the caller may only
    /// append to `buf`; after a cut, the next call's `buf` starts at the next chunk.
    pub fn find_cut(&mut self, buf: &[u8], eof: bool) -> Option<usize> {
        match &mut self.inner {
            Inner::Buzhash(c) => c.find_cut(buf, eof),
            Inner::FastCdc(c) => c.find_cut(buf, eof),
            Inner::Fixed(c) => c.find_cut(buf, eof),
        }
    }

    /// Cuts all of `data`, taken as a whole stream, and returns the chunk lengths.
    pub fn cut_all(&mut self, data: &[u8]) -> Vec<usize> {
        let mut lens = Vec::new();
        let mut start = 0;
        while let Some(len) = self.find_cut(&data[start..], true) {
            lens.push(len);
            start += len;
        }
        lens
    }
}

/// Shared end-of-scan logic: given that no cut was found in `buf[..scanned]` below `max`, decide.
fn settle(scanned: usize, buf_len: usize, max: usize, eof: bool) -> Option<usize> {
    if scanned >= max {
        Some(max)
    } else if eof && buf_len > 0 {
        Some(buf_len)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
