//! The files cache: what each file's path last held (inode, size, ctime or mtime) and its chunk
//! ids, so that a repeated backup does not read unchanged files (DESIGN.md section 4).
//!
//! Keyed by 16 bytes of BLAKE3 of the path. An entry is used only if the file's stat matches
//! under the chosen mode and every chunk it names is in the chunk index. Entries age by one per
//! run that does not see their path and are dropped after `ttl` runs (borg's
//! `BORG_FILES_CACHE_TTL`). borg's race guard: a file whose ctime or mtime is not older than the
//! start of the run minus one second is not remembered, since it may change again within the
//! timestamp's resolution.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::id::ChunkId;

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
        let mut m = Mode {
            ctime: false,
            time: false,
            size: false,
            inode: false,
            rechunk: false,
            disabled: false,
        };
        for part in s.split(',').map(str::trim) {
            match part {
                "ctime" => (m.ctime, m.time) = (true, true),
                "mtime" => (m.ctime, m.time) = (false, true),
                "size" => m.size = true,
                "inode" => m.inode = true,
                "rechunk" => m.rechunk = true,
                "disabled" => m.disabled = true,
                _ => {
                    return Err(Error::invalid(format!(
                        "--files-cache {s}: unknown part {part:?} (use ctime, mtime, size, inode, rechunk, disabled)"
                    )));
                }
            }
        }
        if m.disabled && s.trim() != "disabled" {
            return Err(Error::invalid(format!(
                "--files-cache {s}: disabled cannot be combined"
            )));
        }
        if !m.disabled && !m.time {
            return Err(Error::invalid(format!(
                "--files-cache {s}: name ctime or mtime"
            )));
        }
        Ok(m)
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

struct Entry {
    inode: u64,
    size: u64,
    time: i64,
    age: u8,
    ids: Box<[ChunkId]>,
    sizes: Box<[u32]>,
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
    map: HashMap<[u8; 16], Entry>,
}

const MAGIC: &[u8; 8] = b"HOARDFC1";

fn key(path: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&blake3::hash(path).as_bytes()[..16]);
    k
}

impl FilesCache {
    /// An empty cache for a run that started at `start_ns`.
    pub fn new(mode: Mode, ttl: u8, start_ns: i64) -> Self {
        Self {
            mode,
            ttl,
            guard: start_ns - 1_000_000_000,
            map: HashMap::new(),
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        let Some(e) = self.map.get_mut(&key(path)) else {
            return Lookup::Unknown;
        };
        let same = (!m.inode || e.inode == s.inode) && (!m.size || e.size == s.size) && e.time == t;
        if !same || m.rechunk {
            return Lookup::Changed;
        }
        e.age = 0;
        Lookup::Hit(&e.ids, &e.sizes)
    }

    /// Remembers what `path` held (unless the race guard or the mode says not to).
    pub fn remember(&mut self, path: &[u8], s: &FileStat, ids: &[ChunkId], sizes: &[u32]) {
        if self.mode.disabled || s.ctime >= self.guard || s.mtime >= self.guard {
            self.map.remove(&key(path));
            return;
        }
        let time = self.time_of(s);
        self.map.insert(
            key(path),
            Entry {
                inode: s.inode,
                size: s.size,
                time,
                age: 0,
                ids: ids.into(),
                sizes: sizes.into(),
            },
        );
    }

    /// Writes the cache to `path` atomically: entries seen in this run, and older ones that are
    /// younger than the ttl (aged by one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(16 + self.map.len() * 100);
        out.extend_from_slice(MAGIC);
        let mut n = 0u64;
        out.extend_from_slice(&0u64.to_le_bytes());
        for (k, e) in &self.map {
            let age = if e.age == u8::MAX { e.age } else { e.age + 1 };
            if age > self.ttl {
                continue;
            }
            n += 1;
            out.extend_from_slice(k);
            out.extend_from_slice(&e.inode.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.time.to_le_bytes());
            out.push(age);
            out.extend_from_slice(&(e.ids.len() as u32).to_le_bytes());
            for id in &e.ids {
                out.extend_from_slice(id);
            }
            for s in &e.sizes {
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
        for _ in 0..n {
            let mut k = [0u8; 16];
            k.copy_from_slice(take(16)?);
            let inode = u64_of(take(8)?);
            let size = u64_of(take(8)?);
            let time = u64_of(take(8)?) as i64;
            let age = take(1)?[0];
            let b = take(4)?;
            let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let ids: Box<[ChunkId]> = take(count.checked_mul(32).ok_or_else(bad)?)?
                .chunks_exact(32)
                .map(|c| {
                    let mut id = [0u8; 32];
                    id.copy_from_slice(c);
                    id
                })
                .collect();
            let sizes: Box<[u32]> = take(count.checked_mul(4).ok_or_else(bad)?)?
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            cache.map.insert(
                k,
                Entry {
                    inode,
                    size,
                    time,
                    age,
                    ids,
                    sizes,
                },
            );
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
            "mtime,size",
            "ctime,size",
            "rechunk,ctime",
            "disabled",
        ] {
            assert!(ok.parse::<Mode>().is_ok(), "{ok}");
        }
        for bad in ["size", "inode,size", "disabled,ctime", "nope"] {
            assert!(bad.parse::<Mode>().is_err(), "{bad}");
        }
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
}
