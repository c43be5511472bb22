//! The files cache: what each file's path last held (inode, size, ctime or mtime) and its chunk
//! ids, so that a repeated backup does not read unchanged files (DESIGN.md section 4).
//!
//! Keyed by 16 bytes of BLAKE3 of the path. An entry is used only if the file's stat matches
//! under the chosen mode and every chunk it names is in the chunk index. Entries age by one per
//! run that does not see their path and are dropped after `ttl` runs (borg's
//! `BORG_FILES_CACHE_TTL`). borg's race guard: a file whose ctime or mtime is not older than the
//! start of the run minus one second is not remembered, since it may change again within the
//! timestamp's resolution.

use std::path::Path;

use crate::error::{Error, Result};
use crate::id::ChunkId;
use crate::slot_table::{SlotTable, key_hash};

/// What of a file's stat decides that it is unchanged (borg's `--files-cache` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Compare ctime (else mtime).
    pub ctime: bool,
    /// Compare the time at all.
    pub time: bool,
    /// Compare the size.
    pub size: bool,
    /// Compare the inode number.
    pub inode: bool,
    /// Never use entries (but still remember files): borg's `rechunk`.
    pub rechunk: bool,
    /// Neither use nor remember: borg's `disabled`.
    pub disabled: bool,
}

impl std::str::FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        // borg's letters for the parts, and the sets of them it takes (`FilesCacheMode`).
        let mut letters = Vec::new();
        for part in s.split(',').map(str::trim) {
            let letter = match part {
                "ctime" => 'c',
                "inode" => 'i',
                "mtime" => 'm',
                "rechunk" => 'r',
                "size" => 's',
                "disabled" => 'd',
                _ => {
                    return Err(Error::invalid(format!(
                        "--files-cache {s}: unknown part {part:?} (use ctime, mtime, size, inode, rechunk, disabled)"
                    )));
                }
            };
            letters.push(letter);
        }
        letters.sort_unstable();
        letters.dedup();
        let short: String = letters.iter().collect();
        if !["cis", "ims", "cs", "ms", "cr", "mr", "d", "s"].contains(&short.as_str()) {
            return Err(Error::invalid(format!(
                "--files-cache {s}: not one of borg's modes (ctime,size,inode, mtime,size,inode, ctime,size, mtime,size, ctime,rechunk, mtime,rechunk, size, disabled)"
            )));
        }
        let has = |c| letters.contains(&c);
        Ok(Mode {
            ctime: has('c'),
            time: has('c') || has('m'),
            size: has('s'),
            inode: has('i'),
            rechunk: has('r'),
            disabled: has('d'),
        })
    }
}

/// A file's stat as the walk saw it, before reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Inode number.
    pub inode: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns.
    pub mtime: i64,
    /// Change time, ns.
    pub ctime: i64,
}

/// A path's entry: its key, the stat it was remembered with and where its chunks' ids and sizes
/// lie in the cache's lists: 56 bytes.
#[derive(Clone, Copy)]
struct Entry {
    key: [u8; 16],
    inode: u64,
    size: u64,
    time: i64,
    /// The file's first chunk in [`FilesCache`]'s `ids` and `sizes`.
    start: u32,
    /// Its chunks, or [`FORGOTTEN`].
    count: u32,
    age: u8,
}

/// The `count` of an entry whose path was forgotten (it stays in the table, unused, so that
/// nothing needs to move).
const FORGOTTEN: u32 = u32::MAX;

/// What an entry compares a file's stat with: inode, size and the mode's time.
#[derive(Clone, Copy)]
struct Stat {
    inode: u64,
    size: u64,
    time: i64,
}

/// What the cache says of a file.
pub enum Lookup<'a> {
    /// Unchanged: its chunk ids and sizes.
    Hit(&'a [ChunkId], &'a [u32]),
    /// Known, but changed.
    Changed,
    /// Not known.
    Unknown,
}

/// The files cache (see the module docs).
pub struct FilesCache {
    mode: Mode,
    ttl: u8,
    /// Files with a time at or past this (ns) are not remembered.
    guard: i64,
    /// The entries, by number; `slots` finds them by key.
    entries: Vec<Entry>,
    slots: SlotTable,
    /// Every entry's chunk ids and sizes, one run after another. An entry remembered again
    /// (its file changed) appends a new run; the old one is left unused until the next load.
    ids: Vec<ChunkId>,
    sizes: Vec<u32>,
    /// Entries not forgotten.
    live: usize,
}

const MAGIC: &[u8; 8] = b"HOARDFC1";

fn key(path: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&blake3::hash(path).as_bytes()[..16]);
    k
}

/// Makes room in `v` for `more` items, growing it by an eighth (where a `Vec` doubles, which left
/// up to half of the cache's memory unused).
fn grow_for<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 8).max(1024));
    }
}

impl FilesCache {
    /// An empty cache for a run that started at `start_ns`.
    pub fn new(mode: Mode, ttl: u8, start_ns: i64) -> Self {
        Self {
            mode,
            ttl,
            guard: start_ns - 1_000_000_000,
            entries: Vec::new(),
            slots: SlotTable::with_room(0),
            ids: Vec::new(),
            sizes: Vec::new(),
            live: 0,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of memory the cache holds (for measuring its cost per file).
    pub fn memory(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.slots.memory()
            + self.ids.capacity() * std::mem::size_of::<ChunkId>()
            + self.sizes.capacity() * 4
    }

    /// The number of the entry for `key`, if there is one (forgotten or not).
    fn find(&self, key: &[u8; 16]) -> std::result::Result<u32, usize> {
        self.slots
            .find(key_hash(key), |i| &self.entries[i as usize].key == key)
            .map(|s| self.slots.at(s))
    }

    /// Sets `key`'s entry (adding it if new) to `stat`, `age` and chunks `ids` and `sizes`
    /// (as many).
    fn put(&mut self, key: [u8; 16], stat: Stat, age: u8, ids: &[ChunkId], sizes: &[u32]) {
        let start = self.ids.len();
        grow_for(&mut self.ids, ids.len());
        grow_for(&mut self.sizes, sizes.len());
        self.ids.extend_from_slice(ids);
        self.sizes.extend_from_slice(sizes);
        self.place(key, stat, age, start);
    }

    /// Sets `key`'s entry (adding it if new) to `stat`, `age` and the chunks from `start` to the
    /// end of the lists.
    fn place(&mut self, key: [u8; 16], stat: Stat, age: u8, start: usize) {
        // Past 2^32 chunks in all (128 GiB of ids) the entry is not kept: the file is read again.
        let (Ok(first), Ok(count)) = (u32::try_from(start), u32::try_from(self.ids.len() - start))
        else {
            self.forget(&key);
            return;
        };
        if count == FORGOTTEN {
            self.forget(&key);
            return;
        }
        let entry = Entry {
            key,
            inode: stat.inode,
            size: stat.size,
            time: stat.time,
            start: first,
            count,
            age,
        };
        match self.find(&key) {
            Ok(i) => {
                let e = &mut self.entries[i as usize];
                if e.count == FORGOTTEN {
                    self.live += 1;
                }
                *e = entry;
            }
            Err(slot) => {
                let i = self.entries.len() as u32;
                grow_for(&mut self.entries, 1);
                self.entries.push(entry);
                self.live += 1;
                let entries = &self.entries;
                self.slots.fill(slot, i, entries.len(), |n| {
                    key_hash(&entries[n as usize].key)
                });
            }
        }
    }

    /// Forgets `key`'s entry, if it has one.
    fn forget(&mut self, key: &[u8; 16]) {
        if let Ok(i) = self.find(key) {
            let e = &mut self.entries[i as usize];
            if e.count != FORGOTTEN {
                e.count = FORGOTTEN;
                self.live -= 1;
            }
        }
    }

    /// The chunk ids and sizes of entry `e`.
    fn chunks_of(&self, e: &Entry) -> (&[ChunkId], &[u32]) {
        let run = e.start as usize..e.start as usize + e.count as usize;
        (&self.ids[run.clone()], &self.sizes[run])
    }

    fn time_of(&self, s: &FileStat) -> i64 {
        if self.mode.ctime { s.ctime } else { s.mtime }
    }

    /// What the cache knows of `path` with stat `s`; a hit marks the entry as seen.
    pub fn lookup(&mut self, path: &[u8], s: &FileStat) -> Lookup<'_> {
        if self.mode.disabled {
            return Lookup::Unknown;
        }
        let t = self.time_of(s);
        let m = self.mode;
        let Ok(i) = self.find(&key(path)) else {
            return Lookup::Unknown;
        };
        let e = &mut self.entries[i as usize];
        if e.count == FORGOTTEN {
            return Lookup::Unknown;
        }
        let same = (!m.inode || e.inode == s.inode)
            && (!m.size || e.size == s.size)
            && (!m.time || e.time == t);
        if !same || m.rechunk {
            return Lookup::Changed;
        }
        e.age = 0;
        let e = *e;
        let (ids, sizes) = self.chunks_of(&e);
        Lookup::Hit(ids, sizes)
    }

    /// Remembers what `path` held (unless the race guard or the mode says not to).
    pub fn remember(&mut self, path: &[u8], s: &FileStat, ids: &[ChunkId], sizes: &[u32]) {
        if self.mode.disabled || s.ctime >= self.guard || s.mtime >= self.guard {
            self.forget(&key(path));
            return;
        }
        let stat = Stat {
            inode: s.inode,
            size: s.size,
            time: self.time_of(s),
        };
        self.put(key(path), stat, 0, ids, sizes);
    }

    /// Writes the cache to `path` atomically: entries seen in this run, and older ones that are
    /// younger than the ttl (aged by one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(16 + self.live * 100);
        out.extend_from_slice(MAGIC);
        let mut n = 0u64;
        out.extend_from_slice(&0u64.to_le_bytes());
        for e in &self.entries {
            let age = e.age.saturating_add(1);
            if e.count == FORGOTTEN || age > self.ttl {
                continue;
            }
            n += 1;
            out.extend_from_slice(&e.key);
            out.extend_from_slice(&e.inode.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.time.to_le_bytes());
            out.push(age);
            out.extend_from_slice(&e.count.to_le_bytes());
            let (ids, sizes) = self.chunks_of(e);
            for id in ids {
                out.extend_from_slice(id);
            }
            for s in sizes {
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        out[8..16].copy_from_slice(&n.to_le_bytes());
        crate::cache_file::write(path, out)
    }

    /// Reads a cache saved by [`FilesCache::save`] into a cache for a new run. Entries saved
    /// there count as not yet seen in this run.
    pub fn load(path: &Path, mode: Mode, ttl: u8, start_ns: i64) -> Result<Self> {
        let body = crate::cache_file::read(path, MAGIC, "files cache")?;
        let bad = || Error::corrupt(format!("{}: damaged files cache", path.display()));
        if body.len() < 8 {
            return Err(bad());
        }
        let mut cache = Self::new(mode, ttl, start_ns);
        let mut at = 8;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = body.get(at..at + n).ok_or_else(bad)?;
            at += n;
            Ok(s)
        };
        let u64_of = |b: &[u8]| {
            let mut x = [0u8; 8];
            x.copy_from_slice(b);
            u64::from_le_bytes(x)
        };
        let n = u64_of(&body[..8]);
        // Every entry takes at least 45 bytes of the file: a count past that is damage.
        if n > (body.len() / 45) as u64 {
            return Err(bad());
        }
        cache.entries.reserve_exact(n as usize);
        cache.slots = SlotTable::with_room(n as usize);
        for _ in 0..n {
            let mut k = [0u8; 16];
            k.copy_from_slice(take(16)?);
            let inode = u64_of(take(8)?);
            let size = u64_of(take(8)?);
            let time = u64_of(take(8)?) as i64;
            let age = take(1)?[0];
            let b = take(4)?;
            let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if count == FORGOTTEN {
                return Err(bad());
            }
            let count = count as usize;
            let start = cache.ids.len();
            // Taken first: a count the file does not hold is damage, not an allocation.
            let ids = take(count.checked_mul(32).ok_or_else(bad)?)?;
            let sizes = take(count.checked_mul(4).ok_or_else(bad)?)?;
            grow_for(&mut cache.ids, count);
            grow_for(&mut cache.sizes, count);
            cache.ids.extend(ids.chunks_exact(32).map(|c| {
                let mut id = [0u8; 32];
                id.copy_from_slice(c);
                id
            }));
            cache.sizes.extend(
                sizes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            cache.place(k, Stat { inode, size, time }, age, start);
        }
        Ok(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn stat(inode: u64, size: u64, t: i64) -> FileStat {
        FileStat {
            inode,
            size,
            mtime: t,
            ctime: t,
        }
    }

    #[test]
    fn modes_parse_as_borg_names_them() {
        for ok in [
            "ctime,size,inode",
            "mtime,size,inode",
            "mtime,size",
            "ctime,size",
            "rechunk,ctime",
            "mtime,rechunk",
            "size",
            "disabled",
        ] {
            assert!(ok.parse::<Mode>().is_ok(), "{ok}");
        }
        for bad in [
            "ctime",
            "mtime",
            "inode",
            "inode,size",
            "mtime,size,inode,rechunk",
            "ctime,mtime,size",
            "disabled,ctime",
            "nope",
        ] {
            assert!(bad.parse::<Mode>().is_err(), "{bad}");
        }
        // size alone: a file whose size is the same is taken as unchanged, whatever its times.
        let mut c = FilesCache::new("size".parse().expect("mode"), 20, 1000 * SEC);
        c.remember(b"/s", &stat(1, 10, SEC), &[[7; 32]], &[10]);
        assert!(matches!(
            c.lookup(b"/s", &stat(2, 10, 5 * SEC)),
            Lookup::Hit(..)
        ));
        assert!(matches!(
            c.lookup(b"/s", &stat(1, 11, SEC)),
            Lookup::Changed
        ));
    }

    #[test]
    fn hits_changes_race_guard_ttl_and_file_round_trip() {
        let mode: Mode = "ctime,size,inode".parse().expect("mode");
        let start = 1000 * SEC;
        let mut c = FilesCache::new(mode, 2, start);
        let ids = [[1u8; 32], [2u8; 32]];
        c.remember(b"/a", &stat(5, 10, 10 * SEC), &ids, &[4, 6]);
        // Changed within the run's last second: not remembered.
        c.remember(b"/young", &stat(6, 10, start - SEC / 2), &ids, &[4, 6]);
        assert!(matches!(
            c.lookup(b"/young", &stat(6, 10, start - SEC / 2)),
            Lookup::Unknown
        ));
        assert!(
            matches!(c.lookup(b"/a", &stat(5, 10, 10 * SEC)), Lookup::Hit(i, s) if i == ids && s == [4, 6])
        );
        assert!(matches!(
            c.lookup(b"/a", &stat(5, 11, 10 * SEC)),
            Lookup::Changed
        ));
        assert!(matches!(
            c.lookup(b"/a", &stat(7, 10, 10 * SEC)),
            Lookup::Changed
        ));
        assert!(matches!(
            c.lookup(b"/a", &stat(5, 10, 11 * SEC)),
            Lookup::Changed
        ));

        let dir = std::env::temp_dir().join(format!("hoard-fc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("files");
        c.save(&f).expect("save");
        // Each run that does not see /a ages it; past the ttl it is gone.
        let run2 = FilesCache::load(&f, mode, 2, start).expect("load");
        assert_eq!(run2.len(), 1);
        run2.save(&f).expect("save");
        let run3 = FilesCache::load(&f, mode, 2, start).expect("load");
        assert_eq!(run3.len(), 1);
        run3.save(&f).expect("save");
        let mut run4 = FilesCache::load(&f, mode, 2, start).expect("load");
        assert_eq!(run4.len(), 0);
        assert!(matches!(
            run4.lookup(b"/a", &stat(5, 10, 10 * SEC)),
            Lookup::Unknown
        ));
        // A hit resets the age.
        run4.remember(b"/b", &stat(1, 1, SEC), &ids[..1], &[1]);
        run4.save(&f).expect("save");
        let mut run5 = FilesCache::load(&f, mode, 2, start).expect("load");
        assert!(matches!(
            run5.lookup(b"/b", &stat(1, 1, SEC)),
            Lookup::Hit(..)
        ));
        let mut raw = std::fs::read(&f).expect("read");
        raw[20] ^= 1;
        std::fs::write(&f, &raw).expect("write");
        assert!(FilesCache::load(&f, mode, 2, start).is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// Chunk ids and sizes for file `i` of a test: `i % 3` chunks (some files have none; one a
    /// file on average, as most files of a tree are a chunk).
    fn chunks(i: u64) -> (Vec<ChunkId>, Vec<u32>) {
        let n = i % 3;
        let ids = (0..n).map(|c| [(i * 7 + c) as u8; 32]).collect();
        let sizes = (0..n).map(|c| (i + c) as u32).collect();
        (ids, sizes)
    }

    #[test]
    fn many_files_round_trip_and_cost_under_128_bytes_each() {
        let mode: Mode = "ctime,size,inode".parse().expect("mode");
        let start = 1000 * SEC;
        let n = 100_000u64;
        let mut c = FilesCache::new(mode, 20, start);
        for i in 0..n {
            let (ids, sizes) = chunks(i);
            c.remember(format!("/t/{i}").as_bytes(), &stat(i, i, SEC), &ids, &sizes);
        }
        assert_eq!(c.len(), n as usize);
        // A map of boxed id lists took 170 to 250, by where its doubling fell.
        let per_file = c.memory() / n as usize;
        assert!(per_file < 128, "{per_file} bytes a file");
        let dir = std::env::temp_dir().join(format!("hoard-fc-many-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("files");
        c.save(&f).expect("save");
        let mut back = FilesCache::load(&f, mode, 20, start).expect("load");
        assert_eq!(back.len(), n as usize);
        for i in (0..n).rev() {
            let (ids, sizes) = chunks(i);
            match back.lookup(format!("/t/{i}").as_bytes(), &stat(i, i, SEC)) {
                Lookup::Hit(a, b) => assert!(a == ids && b == sizes, "file {i}"),
                _ => panic!("file {i} missing"),
            }
        }
        assert!(matches!(
            back.lookup(b"/t/none", &stat(1, 1, SEC)),
            Lookup::Unknown
        ));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_damaged_cache_with_a_sound_checksum_is_refused_not_allocated() {
        let mode: Mode = "ctime,size,inode".parse().expect("mode");
        let dir = std::env::temp_dir().join(format!("hoard-fc-damaged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("files");
        // One entry that claims 2^32 - 16 chunks, and one that claims more entries than fit.
        for (entries, count) in [(1u64, u32::MAX - 15), (1u64, u32::MAX), (1_000_000, 0)] {
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&entries.to_le_bytes());
            out.extend_from_slice(&[7; 16 + 8 + 8 + 8 + 1]);
            out.extend_from_slice(&count.to_le_bytes());
            crate::cache_file::write(&f, out).expect("write");
            let e = FilesCache::load(&f, mode, 20, 0).err().expect("refused");
            assert_eq!(
                e.kind,
                crate::error::ErrorKind::Corrupt,
                "{entries} {count}: {e}"
            );
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_file_remembered_again_or_forgotten_is_saved_as_it_is_now() {
        let mode: Mode = "ctime,size,inode".parse().expect("mode");
        let start = 1000 * SEC;
        let mut c = FilesCache::new(mode, 20, start);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        c.remember(b"/x", &stat(1, 10, SEC), &[a], &[10]);
        c.remember(b"/y", &stat(2, 20, SEC), &[a, b], &[10, 10]);
        // /x changed and was read again: the new stat and chunks replace the old.
        c.remember(b"/x", &stat(1, 30, 2 * SEC), &[b, a, b], &[10, 10, 10]);
        assert_eq!(c.len(), 2);
        assert!(matches!(
            c.lookup(b"/x", &stat(1, 10, SEC)),
            Lookup::Changed
        ));
        assert!(
            matches!(c.lookup(b"/x", &stat(1, 30, 2 * SEC)), Lookup::Hit(i, s) if i == [b, a, b] && s == [10; 3])
        );
        // /y changed within the run's last second: forgotten, not just left stale.
        c.remember(b"/y", &stat(2, 20, start - SEC / 2), &[a], &[20]);
        assert_eq!(c.len(), 1);
        assert!(matches!(
            c.lookup(b"/y", &stat(2, 20, SEC)),
            Lookup::Unknown
        ));
        let dir = std::env::temp_dir().join(format!("hoard-fc-again-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("files");
        c.save(&f).expect("save");
        let mut back = FilesCache::load(&f, mode, 20, start).expect("load");
        assert_eq!(back.len(), 1);
        assert!(matches!(
            back.lookup(b"/y", &stat(2, 20, SEC)),
            Lookup::Unknown
        ));
        assert!(
            matches!(back.lookup(b"/x", &stat(1, 30, 2 * SEC)), Lookup::Hit(i, _) if i == [b, a, b])
        );
        // Remembered again after it was forgotten, /y counts once more.
        back.remember(b"/y", &stat(2, 20, SEC), &[b], &[20]);
        assert_eq!(back.len(), 2);
        assert!(
            matches!(back.lookup(b"/y", &stat(2, 20, SEC)), Lookup::Hit(i, s) if i == [b] && s == [20])
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
