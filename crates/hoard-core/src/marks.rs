//! Marks: which blobs of a chunk index are referenced, and by whom. They serve compact's mark
//! phase (a blob nobody marked is dead) and the deduplicated sizes of `info` and `delete --stats`
//! (the stored bytes of blobs that one archive, or one set of archives, alone references).
//!
//! One `u32` per chunk index entry: 0 while unmarked, `owner + 1` while only `owner` marked it,
//! [`SHARED`] once two owners did. A caller walking trees descends into a tree only when marking
//! it changed its state ([`Mark::Changed`]): a tree already held by this owner, or shared, has
//! every blob below it marked the same way already, so each tree is read at most twice however
//! many archives hold it.

use crate::chunk_index::{ChunkIndex, PENDING};
use crate::error::{Error, Result};
use crate::id::ChunkId;
use crate::pack::TocEntry;

/// The state of a blob that two or more owners marked.
pub const SHARED: u32 = u32::MAX;
/// The largest owner number.
pub const MAX_OWNER: u32 = u32::MAX - 2;

/// What marking one blob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The blob was unmarked, or marked by another owner only: its state changed.
    Changed,
    /// The blob was marked by this owner already, or shared.
    Unchanged,
    /// The chunk index has no stored blob of that id.
    Unknown,
}

/// Blobs and their stored bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobTotals {
    /// How many blobs.
    pub blobs: u64,
    /// Their stored length (envelopes included).
    pub bytes: u64,
}

impl BlobTotals {
    fn add(&mut self, length: u32) {
        self.blobs += 1;
        self.bytes += u64::from(length);
    }
}

/// Totals of marked blobs by owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkTotals {
    /// Per owner `0..owners`: the blobs that owner alone marked.
    pub owners: Vec<BlobTotals>,
    /// The blobs two or more owners marked.
    pub shared: BlobTotals,
}

/// How much of one pack is live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackUsage {
    /// Every blob its table lists.
    pub all: BlobTotals,
    /// The live ones: marked, and the copy the chunk index places in this pack.
    pub live: BlobTotals,
}

/// The marks over one chunk index (see the module docs). The index must not lose entries while
/// the marks are in use; entries added later start unmarked.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    states: Vec<u32>,
}

impl Marks {
    /// No blob marked.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self, n: u32) -> u32 {
        self.states.get(n as usize).copied().unwrap_or(0)
    }

    /// Marks blob `id` as referenced by `owner` (at most [`MAX_OWNER`]).
    pub fn mark(&mut self, index: &ChunkIndex, id: &ChunkId, owner: u32) -> Result<Mark> {
        if owner > MAX_OWNER {
            return Err(Error::invalid(format!("owner {owner} is out of range")));
        }
        let Some((n, loc)) = index.lookup(id) else {
            return Ok(Mark::Unknown);
        };
        if loc.pack == PENDING {
            return Ok(Mark::Unknown);
        }
        let at = n as usize;
        if at >= self.states.len() {
            self.states.resize(index.len().max(at + 1), 0);
        }
        let own = owner + 1;
        let next = match self.states[at] {
            0 => own,
            s if s == own || s == SHARED => return Ok(Mark::Unchanged),
            _ => SHARED,
        };
        self.states[at] = next;
        Ok(Mark::Changed)
    }

    /// Whether blob `id` is marked by anyone.
    pub fn is_marked(&self, index: &ChunkIndex, id: &ChunkId) -> bool {
        index.lookup(id).is_some_and(|(n, _)| self.state(n) != 0)
    }

    /// Whether the copy of `id` at `offset` of pack number `pack` is live: the blob is marked and
    /// the chunk index places it exactly there. Another copy of a marked blob (two writers stored
    /// it at once, or an interrupted compact copied it) is dead.
    pub fn is_live_copy(&self, index: &ChunkIndex, id: &ChunkId, pack: u32, offset: u32) -> bool {
        index
            .lookup(id)
            .is_some_and(|(n, loc)| self.state(n) != 0 && loc.pack == pack && loc.offset == offset)
    }

    /// Totals of the marked blobs: per owner `0..owners` (blobs of larger owners are left out)
    /// and shared.
    pub fn totals(&self, index: &ChunkIndex, owners: usize) -> MarkTotals {
        let mut out = MarkTotals {
            owners: vec![BlobTotals::default(); owners],
            shared: BlobTotals::default(),
        };
        let mut n = 0u32;
        index.for_each(|_, loc| {
            let s = self.state(n);
            n = n.wrapping_add(1);
            if s == 0 || loc.pack == PENDING {
                return;
            }
            if s == SHARED {
                out.shared.add(loc.length);
            } else if let Some(t) = out.owners.get_mut((s - 1) as usize) {
                t.add(loc.length);
            }
        });
        out
    }

    /// How much of pack `pack_id`, whose table lists `entries`, is live.
    pub fn pack_usage(
        &self,
        index: &ChunkIndex,
        pack_id: &ChunkId,
        entries: &[TocEntry],
    ) -> PackUsage {
        let number = index.pack_number(pack_id);
        let mut usage = PackUsage::default();
        for e in entries {
            usage.all.add(e.length);
            if number.is_some_and(|p| self.is_live_copy(index, &e.id, p, e.offset)) {
                usage.live.add(e.length);
            }
        }
        usage
    }

    /// The live entries of pack `pack_id`, whose table lists `entries`, in pack order.
    pub fn live_entries(
        &self,
        index: &ChunkIndex,
        pack_id: &ChunkId,
        entries: &[TocEntry],
    ) -> Vec<TocEntry> {
        let Some(number) = index.pack_number(pack_id) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|e| self.is_live_copy(index, &e.id, number, e.offset))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk_index::Location;

    fn id(i: u8) -> ChunkId {
        [i; 32]
    }

    fn entry(i: u8, offset: u32, length: u32) -> TocEntry {
        TocEntry {
            obj_type: 0,
            id: id(i),
            offset,
            length,
            plain: length,
        }
    }

    /// Blobs 1..=4 in pack A at offsets 8, 108, 208, 308 (100 bytes each); blob 5 pending.
    fn index() -> ChunkIndex {
        let mut ix = ChunkIndex::new();
        let a = ix.add_pack(&[0xaa; 32]);
        for i in 1..=4u8 {
            let loc = Location {
                pack: a,
                offset: 8 + 100 * u32::from(i - 1),
                length: 100,
            };
            assert!(ix.insert(&id(i), loc, 1));
        }
        let pending = Location {
            pack: PENDING,
            offset: 0,
            length: 0,
        };
        assert!(ix.insert(&id(5), pending, 0));
        ix
    }

    #[test]
    fn owners_share_and_changes_are_reported_once() {
        let ix = index();
        let mut m = Marks::new();
        assert_eq!(m.mark(&ix, &id(1), 0), Ok(Mark::Changed));
        assert_eq!(m.mark(&ix, &id(1), 0), Ok(Mark::Unchanged));
        assert_eq!(m.mark(&ix, &id(1), 1), Ok(Mark::Changed), "now shared");
        assert_eq!(m.mark(&ix, &id(1), 1), Ok(Mark::Unchanged));
        assert_eq!(
            m.mark(&ix, &id(1), 2),
            Ok(Mark::Unchanged),
            "shared stays shared"
        );
        assert_eq!(m.mark(&ix, &id(2), 1), Ok(Mark::Changed));
        assert_eq!(m.mark(&ix, &id(3), 0), Ok(Mark::Changed));
        assert_eq!(m.mark(&ix, &id(9), 0), Ok(Mark::Unknown));
        assert_eq!(
            m.mark(&ix, &id(5), 0),
            Ok(Mark::Unknown),
            "pending is not stored"
        );
        assert!(m.mark(&ix, &id(2), MAX_OWNER + 1).is_err());
        assert!(m.is_marked(&ix, &id(1)));
        assert!(!m.is_marked(&ix, &id(4)));
        let t = m.totals(&ix, 2);
        assert_eq!(
            t.owners[0],
            BlobTotals {
                blobs: 1,
                bytes: 100
            }
        );
        assert_eq!(
            t.owners[1],
            BlobTotals {
                blobs: 1,
                bytes: 100
            }
        );
        assert_eq!(
            t.shared,
            BlobTotals {
                blobs: 1,
                bytes: 100
            }
        );
        assert_eq!(m.totals(&ix, 1).owners.len(), 1);
    }

    #[test]
    fn only_the_indexed_copy_of_a_marked_blob_is_live() {
        let mut ix = index();
        let b = ix.add_pack(&[0xbb; 32]);
        let mut m = Marks::new();
        m.mark(&ix, &id(1), 0).expect("mark");
        m.mark(&ix, &id(2), 0).expect("mark");
        let a_entries = [
            entry(1, 8, 100),
            entry(2, 108, 100),
            entry(3, 208, 100),
            entry(4, 308, 100),
        ];
        let usage = m.pack_usage(&ix, &[0xaa; 32], &a_entries);
        assert_eq!(
            usage.all,
            BlobTotals {
                blobs: 4,
                bytes: 400
            }
        );
        assert_eq!(
            usage.live,
            BlobTotals {
                blobs: 2,
                bytes: 200
            }
        );
        let live = m.live_entries(&ix, &[0xaa; 32], &a_entries);
        assert_eq!(live, vec![a_entries[0], a_entries[1]]);
        // Pack B holds a second copy of blob 1: marked, but the index places it in A.
        let b_entries = [entry(1, 8, 100)];
        assert!(!m.is_live_copy(&ix, &id(1), b, 8));
        assert_eq!(
            m.pack_usage(&ix, &[0xbb; 32], &b_entries).live,
            BlobTotals::default()
        );
        assert!(m.live_entries(&ix, &[0xbb; 32], &b_entries).is_empty());
        // A pack the index does not list has nothing live.
        assert!(m.live_entries(&ix, &[0xcc; 32], &a_entries).is_empty());
        // An entry at another offset of the right pack is not the live copy either.
        assert!(!m.is_live_copy(&ix, &id(1), 0, 108));
    }
}
