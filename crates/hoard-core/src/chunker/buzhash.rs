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

    /// The change a byte `out` leaving the window and a byte `inp` entering it make to the hash
    /// (after the hash is rotated by one).
    #[inline(always)]
    fn step(&self, out: u8, inp: u8) -> u32 {
        self.table_out[out as usize] ^ self.table[inp as usize]
    }

    /// Rolls the hash `h` of the window ending at `e` on through `buf[..limit]`; returns the first
    /// end `e' > e` whose hash has the mask's bits all zero (with that hash), or `limit` and the
    /// hash there.
    ///
    /// Four bytes a step: each end's hash is `rotl(h, 1) ^ step`, so the hash four bytes on is
    /// `rotl(h, 4)` combined with the four steps, which do not depend on `h`. The loop-carried
    /// chain is then two operations per four bytes instead of two or three per byte, and the
    /// three hashes in between (only tested) leave it; a byte at a time this loop ran at three
    /// cycles a byte, the latency of that chain.
    fn roll(&self, buf: &[u8], mut e: usize, limit: usize, mut h: u32) -> (usize, u32) {
        let mask = self.mask;
        let outs = &buf[e - self.window..limit - self.window];
        let ins = &buf[e..limit];
        let (outs4, outs_rest) = outs.as_chunks::<4>();
        let (ins4, ins_rest) = ins.as_chunks::<4>();
        for (o, i) in outs4.iter().zip(ins4) {
            let d0 = self.step(o[0], i[0]);
            let d1 = self.step(o[1], i[1]);
            let d2 = self.step(o[2], i[2]);
            let d3 = self.step(o[3], i[3]);
            let h1 = h.rotate_left(1) ^ d0;
            let h2 = h1.rotate_left(1) ^ d1;
            let h3 = h2.rotate_left(1) ^ d2;
            let h4 = h.rotate_left(4)
                ^ (d0.rotate_left(3) ^ d1.rotate_left(2) ^ (d2.rotate_left(1) ^ d3));
            if (h1 & mask == 0) | (h2 & mask == 0) | (h3 & mask == 0) | (h4 & mask == 0) {
                for (k, hk) in [h1, h2, h3, h4].into_iter().enumerate() {
                    if hk & mask == 0 {
                        return (e + k + 1, hk);
                    }
                }
            }
            h = h4;
            e += 4;
        }
        for (&out, &inp) in outs_rest.iter().zip(ins_rest) {
            h = h.rotate_left(1) ^ self.step(out, inp);
            e += 1;
            if h & mask == 0 {
                break;
            }
        }
        (e, h)
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
            (e, h) = self.roll(buf, e, limit, h);
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
