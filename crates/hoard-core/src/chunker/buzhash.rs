//! Buzhash: a cyclic-polynomial rolling hash over a window of `w` bytes.
//!
//! A chunk may end at offset `e` (it is then `buf[..e]`) when `e >= max(2^min_exp, w)` and the hash
//! of `buf[e - w..e]` has its low `mask_bits` bits all zero, or when `e` reaches `2^max_exp`. The
//! bytes below the minimum size are never hashed except for the window that ends there.

use super::settle;
use super::table::buzhash_table;

#[derive(Clone)]
pub struct Buzhash {
    table: [u32; 256],
    /// `table[b]` rotated by the window length: what leaving the window takes away.
    table_out: [u32; 256],
    window: usize,
    lo: usize,
    max: usize,
    mask: u32,
    /// The next offset to test; 0 before the chunk's first call.
    next: usize,
    /// The hash of the window that ends at `next`.
    hash: u32,
}

impl Buzhash {
    pub fn new(min_exp: u8, max_exp: u8, mask_bits: u8, window: u32, seed: &[u8; 32]) -> Self {
        let table = buzhash_table(seed);
        let window = window as usize;
        // `window % 32` is below 32, so the cast cannot truncate.
        let rot = (window % 32) as u32;
        let table_out = table.map(|t| t.rotate_left(rot));
        let min = 1usize << min_exp;
        Self {
            table,
            table_out,
            window,
            lo: min.max(window),
            max: 1usize << max_exp,
            mask: (1u32 << mask_bits) - 1,
            next: 0,
            hash: 0,
        }
    }

    pub fn max_size(&self) -> usize {
        self.max
    }

    fn hash_window(&self, window: &[u8]) -> u32 {
        window
            .iter()
            .fold(0u32, |h, &b| h.rotate_left(1) ^ self.table[b as usize])
    }

    pub fn find_cut(&mut self, buf: &[u8], eof: bool) -> Option<usize> {
        let limit = buf.len().min(self.max);
        if self.next == 0 {
            if limit < self.lo {
                return settle(limit, buf.len(), self.max, eof);
            }
            self.hash = self.hash_window(&buf[self.lo - self.window..self.lo]);
            self.next = self.lo;
        }
        let (mut e, mut h, mask) = (self.next, self.hash, self.mask);
        if h & mask != 0 && e < limit {
            let outs = &buf[e - self.window..limit - self.window];
            let ins = &buf[e..limit];
            for (&out, &inp) in outs.iter().zip(ins) {
                h = h.rotate_left(1) ^ self.table_out[out as usize] ^ self.table[inp as usize];
                e += 1;
                if h & mask == 0 {
                    break;
                }
            }
        }
        let cut = if h & mask == 0 {
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
