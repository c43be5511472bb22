//! Buzhash: a cyclic-polynomial rolling hash over a window of `w` bytes.
//!
//! A chunk may end at offset `e` (it is then `buf[..e]`) when `e >= max(2^min_exp, w)` and the hash
//! of `buf[e - w..e]` has its low `mask_bits` bits all zero, or when `e` reaches `2^max_exp`. The
//! bytes below the minimum size are never hashed except for the window that ends there.

use std::cell::RefCell;
use std::sync::Arc;

use super::settle;
use super::table::buzhash_table;

/// A seed's tables for one rotation of the byte leaving the window.
struct Tables {
    seed: [u8; 32],
    /// The window's length modulo 32.
    rot: u32,
    table: [u32; 256],
    /// `table[b]` rotated by the window length: what leaving the window takes away.
    table_out: [u32; 256],
    /// For `r` in 1..=4, `table` and `table_out` rotated right by `r` (see [`Buzhash::roll`]).
    rotated: [([u32; 256], [u32; 256]); 4],
}

impl Tables {
    fn new(seed: &[u8; 32], rot: u32) -> Self {
        let table = buzhash_table(seed);
        let table_out = table.map(|t| t.rotate_left(rot));
        let rotated = [1, 2, 3, 4].map(|r| {
            (
                table.map(|t| t.rotate_right(r)),
                table_out.map(|t| t.rotate_right(r)),
            )
        });
        Self {
            seed: *seed,
            rot,
            table,
            table_out,
            rotated,
        }
    }
}

thread_local! {
    /// The tables this thread made last: a backup makes a chunker per file, all with one seed.
    static LAST: RefCell<Option<Arc<Tables>>> = const { RefCell::new(None) };
}

#[derive(Clone)]
pub struct Buzhash {
    tables: Arc<Tables>,
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
        let window = window as usize;
        // `window % 32` is below 32, so the cast cannot truncate.
        let rot = (window % 32) as u32;
        let tables = LAST.with(|last| {
            let mut last = last.borrow_mut();
            match last.as_ref() {
                Some(t) if t.seed == *seed && t.rot == rot => Arc::clone(t),
                _ => Arc::clone(last.insert(Arc::new(Tables::new(seed, rot)))),
            }
        });
        let min = 1usize << min_exp;
        Self {
            tables,
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
        window.iter().fold(0u32, |h, &b| {
            h.rotate_left(1) ^ self.tables.table[b as usize]
        })
    }

    /// The change a byte `out` leaving the window and a byte `inp` entering it make to the hash
    /// (after the hash is rotated by one).
    #[inline(always)]
    fn step(&self, out: u8, inp: u8) -> u32 {
        self.tables.table_out[out as usize] ^ self.tables.table[inp as usize]
    }

    /// Rolls the hash `h` of the window ending at `e` on through `buf[..limit]`; returns the first
    /// end `e' > e` whose hash has the mask's bits all zero (with that hash), or `limit` and the
    /// hash there.
    ///
    /// Four bytes a step. Each end's hash is `h_k = rotl(h_{k-1}, 1) ^ step_k`; taken relative to
    /// the step's first end, `g_k = rotr(h_k, k)` is `g_{k-1} ^ rotr(step_k, k)`, so with the
    /// steps rotated in the tables ([`Tables`]`::rotated`) each `g_k` is `h` xor-ed with table
    /// words, tested against the mask rotated right by `k`, and the next step starts from
    /// `rotl(g_4, 4)`. The loop-carried chain is two operations per four bytes, and the three
    /// ends in between (only tested) leave it. A byte at a time this loop ran at three cycles a
    /// byte, the latency of that chain; rotating the steps in the loop instead of in the tables
    /// was 10% slower (1,000 against 1,110 MB/s on 256 MiB of random data).
    fn roll(&self, buf: &[u8], mut e: usize, limit: usize, mut h: u32) -> (usize, u32) {
        let mask = self.mask;
        let outs = &buf[e - self.window..limit - self.window];
        let ins = &buf[e..limit];
        let (outs4, outs_rest) = outs.as_chunks::<4>();
        let (ins4, ins_rest) = ins.as_chunks::<4>();
        let [(t1, o1), (t2, o2), (t3, o3), (t4, o4)] = &self.tables.rotated;
        let masks = [1, 2, 3, 4].map(|r| mask.rotate_right(r));
        for (o, i) in outs4.iter().zip(ins4) {
            let e1 = o1[o[0] as usize] ^ t1[i[0] as usize];
            let e2 = o2[o[1] as usize] ^ t2[i[1] as usize];
            let e3 = o3[o[2] as usize] ^ t3[i[2] as usize];
            let e4 = o4[o[3] as usize] ^ t4[i[3] as usize];
            let g1 = h ^ e1;
            let g2 = g1 ^ e2;
            let g3 = h ^ (e1 ^ e2 ^ e3);
            let g4 = h ^ ((e1 ^ e2) ^ (e3 ^ e4));
            if (g1 & masks[0] == 0)
                | (g2 & masks[1] == 0)
                | (g3 & masks[2] == 0)
                | (g4 & masks[3] == 0)
            {
                for (k, gk) in [g1, g2, g3, g4].into_iter().enumerate() {
                    if gk & masks[k] == 0 {
                        let hk = gk.rotate_left(k as u32 + 1);
                        return (e + k + 1, hk);
                    }
                }
            }
            h = g4.rotate_left(4);
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
