//! The chunk index: chunk id -> (pack, offset, length), for every blob the repository's index
//! objects list, and the sums of their stored and plaintext lengths. A compact open-addressing table: 44 bytes per entry in blocks, plus u32 slots
//! at a load between 0.67 and 0.85, so about 50 bytes a chunk (DESIGN.md section 4).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::id::{ChunkId, ID_LEN};
use crate::slot_table::{SlotTable, key_hash};

/// Where a blob lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack's number in this index's pack list.
    pub pack: u32,
    /// The blob's offset in the pack.
    pub offset: u32,
    /// The blob's length.
    pub length: u32,
}

/// A pack number for blobs that are being written now and have no place yet.
pub const PENDING: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    id: ChunkId,
    loc: Location,
}

const BLOCK_BITS: u32 = 16;
const BLOCK: usize = 1 << BLOCK_BITS;
const FILE_MAGIC: &[u8; 8] = b"HOARDCI2";

/// The chunk index (see the module docs).
pub struct ChunkIndex {
    blocks: Vec<Vec<Entry>>,
    len: usize,
    slots: SlotTable,
    packs: Vec<ChunkId>,
    pack_numbers: HashMap<ChunkId, u32>,
    /// Sum of the lengths of all blobs.
    stored: u64,
    /// Sum of the plaintext lengths of all blobs (borg's `unique_size`).
    plain: u64,
}

impl Default for ChunkIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// Entry `i` of `blocks`.
fn entry_in(blocks: &[Vec<Entry>], i: u32) -> &Entry {
    &blocks[(i >> BLOCK_BITS) as usize][i as usize & (BLOCK - 1)]
}

impl ChunkIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            blocks: Vec::new(),
            len: 0,
            slots: SlotTable::with_room(0),
            packs: Vec::new(),
            pack_numbers: HashMap::new(),
            stored: 0,
            plain: 0,
        }
    }

    /// Entries in the index.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sum of the stored lengths of all blobs.
    pub fn stored_bytes(&self) -> u64 {
        self.stored
    }

    /// The sum of the plaintext lengths of all blobs.
    pub fn plain_bytes(&self) -> u64 {
        self.plain
    }

    /// Bytes of memory the table holds (for measuring the cost per chunk).
    pub fn memory(&self) -> usize {
        self.blocks.iter().map(|b| b.capacity()).sum::<usize>() * std::mem::size_of::<Entry>()
            + self.slots.memory()
            + self.packs.capacity() * ID_LEN
    }

    /// The pack ids, by number.
    pub fn packs(&self) -> &[ChunkId] {
        &self.packs
    }

    /// The number of pack `id`, adding it if it is new.
    pub fn add_pack(&mut self, id: &ChunkId) -> u32 {
        if let Some(&i) = self.pack_numbers.get(id) {
            return i;
        }
        let i = self.packs.len() as u32;
        self.packs.push(*id);
        self.pack_numbers.insert(*id, i);
        i
    }

    fn entry(&self, i: u32) -> &Entry {
        entry_in(&self.blocks, i)
    }

    fn entry_mut(&mut self, i: u32) -> &mut Entry {
        &mut self.blocks[(i >> BLOCK_BITS) as usize][i as usize & (BLOCK - 1)]
    }

    fn find(&self, id: &ChunkId) -> std::result::Result<usize, usize> {
        self.slots.find(key_hash(id), |i| &self.entry(i).id == id)
    }

    /// Where blob `id` lies, if the index has it (a pending blob has pack [`PENDING`]).
    pub fn get(&self, id: &ChunkId) -> Option<Location> {
        self.find(id).ok().map(|s| self.entry(self.slots.at(s)).loc)
    }

    /// Blob `id`'s entry number (entries are numbered from 0 in the order they were added) and
    /// place, if the index has it.
    pub fn lookup(&self, id: &ChunkId) -> Option<(u32, Location)> {
        self.find(id).ok().map(|s| {
            let n = self.slots.at(s);
            (n, self.entry(n).loc)
        })
    }

    /// The number of pack `id`, if the index lists it.
    pub fn pack_number(&self, id: &ChunkId) -> Option<u32> {
        self.pack_numbers.get(id).copied()
    }

    /// Whether the index has blob `id`.
    pub fn contains(&self, id: &ChunkId) -> bool {
        self.find(id).is_ok()
    }

    /// Adds blob `id` (of `plain` plaintext bytes) at `loc` unless the index has it; returns
    /// whether it was added. A pending entry is replaced by a real location. A blob's lengths
    /// count in the sums once it has a real location (`plain` of a pending one is not used).
    pub fn insert(&mut self, id: &ChunkId, loc: Location, plain: u32) -> bool {
        match self.find(id) {
            Ok(s) => {
                let i = self.slots.at(s);
                let e = self.entry_mut(i);
                if e.loc.pack == PENDING && loc.pack != PENDING {
                    e.loc = loc;
                    self.stored += u64::from(loc.length);
                    self.plain += u64::from(plain);
                }
                false
            }
            Err(s) => {
                let i = self.len as u32;
                if self.blocks.last().is_none_or(|b| b.len() == BLOCK) {
                    self.blocks.push(Vec::with_capacity(BLOCK));
                }
                if let Some(b) = self.blocks.last_mut() {
                    b.push(Entry { id: *id, loc });
                }
                self.len += 1;
                let blocks = &self.blocks;
                self.slots
                    .fill(s, i, self.len, |n| key_hash(&entry_in(blocks, n).id));
                if loc.pack != PENDING {
                    self.stored += u64::from(loc.length);
                    self.plain += u64::from(plain);
                }
                true
            }
        }
    }

    /// Places blob `id` at `loc` whether or not the index has it (a replacing copy: recreate's
    /// recompressed chunks, section 10.8 of docs/format.md); returns whether it was new. The
    /// copies of one id hold the same plaintext, so replacing a real entry keeps the plaintext sum.
    pub fn replace(&mut self, id: &ChunkId, loc: Location, plain: u32) -> bool {
        match self.find(id) {
            Ok(s) => {
                let i = self.slots.at(s);
                let e = self.entry_mut(i);
                let old = e.loc;
                e.loc = loc;
                let (was, is) = (old.pack != PENDING, loc.pack != PENDING);
                if was {
                    self.stored -= u64::from(old.length);
                }
                if is {
                    self.stored += u64::from(loc.length);
                }
                match (was, is) {
                    (false, true) => self.plain += u64::from(plain),
                    // The caller passes the blob's plaintext length here too (one id, one
                    // plaintext): the sum then takes back what the real entry added.
                    (true, false) => self.plain = self.plain.saturating_sub(u64::from(plain)),
                    _ => {}
                }
                false
            }
            Err(_) => self.insert(id, loc, plain),
        }
    }

    /// Calls `f` for every entry, in entry-number order.
    pub fn for_each(&self, mut f: impl FnMut(&ChunkId, Location)) {
        for b in &self.blocks {
            for e in b {
                f(&e.id, e.loc);
            }
        }
    }

    /// Writes the index and the caller's `meta` bytes to `path` atomically (temporary file, then
    /// rename), with a BLAKE3 checksum at the end.
    pub fn save(&self, path: &Path, meta: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(64 + meta.len() + self.packs.len() * 32 + self.len * 44);
        out.extend_from_slice(FILE_MAGIC);
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(meta);
        out.extend_from_slice(&(self.packs.len() as u64).to_le_bytes());
        for p in &self.packs {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&self.plain.to_le_bytes());
        out.extend_from_slice(&(self.len as u64).to_le_bytes());
        self.for_each(|id, loc| {
            out.extend_from_slice(id);
            out.extend_from_slice(&loc.pack.to_le_bytes());
            out.extend_from_slice(&loc.offset.to_le_bytes());
            out.extend_from_slice(&loc.length.to_le_bytes());
        });
        crate::cache_file::write(path, out)
    }

    /// Reads an index written by [`ChunkIndex::save`]; returns it and the caller's meta bytes.
    pub fn load(path: &Path) -> Result<(Self, Vec<u8>)> {
        let body = crate::cache_file::read(path, FILE_MAGIC, "chunk index cache")?;
        let bad = || Error::corrupt(format!("{}: damaged chunk index cache", path.display()));
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = body.get(at..at + n).ok_or_else(bad)?;
            at += n;
            Ok(s)
        };
        let num = |b: &[u8]| -> usize {
            let mut x = [0u8; 8];
            x.copy_from_slice(b);
            u64::from_le_bytes(x) as usize
        };
        let meta_len = num(take(8)?);
        let meta = take(meta_len)?.to_vec();
        let npacks = num(take(8)?);
        let mut index = Self::new();
        for p in take(npacks.checked_mul(32).ok_or_else(bad)?)?.chunks_exact(32) {
            let mut id = [0u8; 32];
            id.copy_from_slice(p);
            index.add_pack(&id);
        }
        let plain = num(take(8)?) as u64;
        let n = num(take(8)?);
        let recs = take(n.checked_mul(44).ok_or_else(bad)?)?;
        index.slots = SlotTable::with_room(n);
        for r in recs.chunks_exact(44) {
            let mut id = [0u8; 32];
            id.copy_from_slice(&r[..32]);
            let u = |o: usize| u32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
            let loc = Location {
                pack: u(32),
                offset: u(36),
                length: u(40),
            };
            if loc.pack as usize >= index.packs.len() {
                return Err(bad());
            }
            index.insert(&id, loc, 0);
        }
        index.plain = plain;
        Ok((index, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u64) -> ChunkId {
        let mut out = [0u8; 32];
        blake3::Hasher::new()
            .update(&i.to_le_bytes())
            .finalize_xof()
            .fill(&mut out);
        out
    }

    #[test]
    fn replace_moves_a_blob_and_keeps_the_totals() {
        let mut ix = ChunkIndex::new();
        let (a, b) = (ix.add_pack(&[1; 32]), ix.add_pack(&[2; 32]));
        let at = |pack, length| Location {
            pack,
            offset: 8,
            length,
        };
        assert!(ix.insert(&id(1), at(a, 100), 300));
        assert!(!ix.insert(&id(1), at(b, 60), 300));
        assert_eq!(ix.get(&id(1)), Some(at(a, 100)));
        assert_eq!(ix.plain_bytes(), 300);
        assert!(!ix.replace(&id(1), at(b, 60), 300));
        assert_eq!(ix.get(&id(1)), Some(at(b, 60)));
        assert_eq!((ix.stored_bytes(), ix.plain_bytes()), (60, 300));
        assert!(ix.replace(&id(2), at(a, 5), 7));
        assert_eq!(
            (ix.len(), ix.stored_bytes(), ix.plain_bytes()),
            (2, 65, 307)
        );
    }

    #[test]
    fn insert_get_and_round_trip_through_a_file() {
        let mut ix = ChunkIndex::new();
        let p = ix.add_pack(&[7; 32]);
        assert_eq!(ix.add_pack(&[7; 32]), p);
        let n = 4 * BLOCK as u64;
        for i in 0..n {
            let loc = Location {
                pack: p,
                offset: i as u32,
                length: (i % 1000) as u32 + 1,
            };
            assert!(ix.insert(&id(i), loc, (i % 5000) as u32));
        }
        assert!(!ix.insert(
            &id(5),
            Location {
                pack: p,
                offset: 0,
                length: 9
            },
            9
        ));
        assert_eq!(ix.plain_bytes(), (0..n).map(|i| i % 5000).sum::<u64>());
        assert_eq!(ix.len(), n as usize);
        for i in (0..n).step_by(97) {
            assert_eq!(ix.get(&id(i)).map(|l| l.offset), Some(i as u32));
        }
        assert!(ix.get(&id(n + 1)).is_none());
        let per_chunk = ix.memory() as f64 / n as f64;
        assert!(per_chunk < 52.0, "{per_chunk} bytes per chunk");
        let dir = std::env::temp_dir().join(format!("hoard-cix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("chunks");
        ix.save(&file, b"meta").expect("save");
        let (back, meta) = ChunkIndex::load(&file).expect("load");
        assert_eq!(meta, b"meta");
        assert_eq!(back.len(), ix.len());
        assert_eq!(back.stored_bytes(), ix.stored_bytes());
        assert_eq!(back.plain_bytes(), ix.plain_bytes());
        for i in (0..n).step_by(101) {
            assert_eq!(back.get(&id(i)), ix.get(&id(i)));
        }
        let mut raw = std::fs::read(&file).expect("read");
        raw[100] ^= 1;
        std::fs::write(&file, &raw).expect("write");
        assert!(ChunkIndex::load(&file).is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn pending_entries_take_their_place_later() {
        let mut ix = ChunkIndex::new();
        let pending = Location {
            pack: PENDING,
            offset: 0,
            length: 0,
        };
        assert!(ix.insert(&id(1), pending, 50));
        assert!(!ix.insert(&id(1), pending, 50));
        assert_eq!((ix.stored_bytes(), ix.plain_bytes()), (0, 0));
        let real = Location {
            pack: 0,
            offset: 8,
            length: 100,
        };
        assert!(!ix.insert(&id(1), real, 250));
        assert_eq!(ix.get(&id(1)), Some(real));
        assert_eq!((ix.stored_bytes(), ix.plain_bytes()), (100, 250));
        assert!(!ix.insert(&id(1), real, 250));
        assert_eq!(ix.plain_bytes(), 250);
    }
}
