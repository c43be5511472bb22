//! FastCDC: a keyed Gear hash with sub-minimum skipping and normalized chunking.
//!
//! The Gear hash `h = (h << 1) + G[byte]` depends on the last 64 bytes only in its top bits, so the
//! cut test looks at the top bits. A chunk may end at offset `e` when `e >= 2^min_exp` and the top
//! `mask_bits + nc_level` bits of the hash are zero (up to the normal size `2^mask_bits`), or the top
//! `mask_bits - nc_level` bits (beyond it), or when `e` reaches `2^max_exp`. Only the
//! 64 bytes before the minimum size are hashed to warm up; the rest below the minimum is skipped.

use std::cell::RefCell;
use std::sync::Arc;

use super::settle;
use super::table::gear_table;

/// A seed and its Gear table.
type Seeded = ([u8; 32], Arc<[u64; 256]>);

thread_local! {
    /// The seed and Gear table this thread made last: a backup makes a chunker per file.
    static LAST: RefCell<Option<Seeded>> = const { RefCell::new(None) };
}

/// `seed`'s Gear table, shared with this thread's earlier chunkers of the same seed.
fn shared_gear(seed: &[u8; 32]) -> Arc<[u64; 256]> {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match last.as_ref() {
            Some((s, gear)) if s == seed => Arc::clone(gear),
            _ => Arc::clone(&last.insert((*seed, Arc::new(gear_table(seed)))).1),
        }
    })
}

/// Bytes that influence a Gear hash's top bit.
const WARMUP: usize = 64;

#[derive(Clone)]
pub struct FastCdc {
    gear: Arc<[u64; 256]>,
    min: usize,
    normal: usize,
    max: usize,
    mask_small: u64,
    mask_large: u64,
    next: usize,
    hash: u64,
}

fn top_bits(bits: u8) -> u64 {
    if bits == 0 {
        0
    } else {
        u64::MAX << (64 - u32::from(bits))
    }
}

impl FastCdc {
    pub fn new(min_exp: u8, max_exp: u8, mask_bits: u8, nc_level: u8, seed: &[u8; 32]) -> Self {
        Self {
            gear: shared_gear(seed),
            min: 1usize << min_exp,
            normal: 1usize << mask_bits,
            max: 1usize << max_exp,
            mask_small: top_bits(mask_bits + nc_level),
            mask_large: top_bits(mask_bits.saturating_sub(nc_level)),
            next: 0,
            hash: 0,
        }
    }

    pub fn max_size(&self) -> usize {
        self.max
    }

    /// Rolls over `bytes` from offset `e`, stopping after the first offset whose hash passes `mask`.
    fn scan(&self, bytes: &[u8], mut e: usize, mut h: u64, mask: u64) -> (usize, u64, bool) {
        for &b in bytes {
            h = (h << 1).wrapping_add(self.gear[b as usize]);
            e += 1;
            if h & mask == 0 {
                return (e, h, true);
            }
        }
        (e, h, false)
    }

    pub fn find_cut(&mut self, buf: &[u8], eof: bool) -> Option<usize> {
        let limit = buf.len().min(self.max);
        if self.next == 0 {
            if limit < self.min {
                return settle(limit, buf.len(), self.max, eof);
            }
            let warm = &buf[self.min - WARMUP..self.min];
            self.hash = warm
                .iter()
                .fold(0u64, |h, &b| (h << 1).wrapping_add(self.gear[b as usize]));
            self.next = self.min;
        }
        let (mut e, mut h) = (self.next, self.hash);
        let mut found = e <= self.normal && h & self.mask_small == 0
            || e > self.normal && h & self.mask_large == 0;
        if !found && e < self.normal.min(limit) {
            (e, h, found) = self.scan(&buf[e..self.normal.min(limit)], e, h, self.mask_small);
        }
        if !found && e >= self.normal && e < limit {
            (e, h, found) = self.scan(&buf[e..limit], e, h, self.mask_large);
        }
        let cut = if found {
            Some(e)
        } else {
            settle(e, buf.len(), self.max, eof)
        };
        if cut.is_some() {
            self.next = 0;
        } else {
            self.next = e;
            self.hash = h;
        }
        cut
    }
}
