//! The file pipeline: file -> chunks -> ids, reading with large reused buffers.
//!
//! Later stages (dedup, compression, sealing, packing) attach here, so that a whole file, or a
//! batch of small files, is one call from the CLI, never one call per chunk.

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind as IoKind, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::chunker::{Chunker, ChunkerParams};
use crate::error::Error;
use crate::id::{ChunkId, IdHasher};
use crate::pool::pool;

/// Bytes asked of the OS per read.
pub const READ_SIZE: usize = 1 << 20;

/// What cutting one file produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileChunks {
    /// Bytes read in all.
    pub size: u64,
    /// The id of each chunk, in file order.
    pub ids: Vec<ChunkId>,
    /// The length of each chunk.
    pub sizes: Vec<u32>,
}

/// How to cut and identify chunks: the chunker parameters, its seed and the id hasher.
#[derive(Clone)]
pub struct ChunkSettings {
    /// Chunker parameters.
    pub params: ChunkerParams,
    /// The chunker's table seed (the chunker subkey).
    pub seed: [u8; 32],
    /// The id hasher.
    pub ids: IdHasher,
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads everything from `reader`, cuts it with `chunker`, and calls `each` with every chunk in
/// order, whatever sizes the reads return; resolves to the bytes read. `buf` is reused across
/// calls: it starts at twice `read_size` and grows to the chunker's maximum plus `read_size`
/// only once a chunk needs more (so the small files of a tree never touch more), never doubled.
/// Read errors go through `io_error`.
pub fn for_each_chunk<R: Read, E>(
    mut reader: R,
    chunker: &mut Chunker,
    read_size: usize,
    buf: &mut Vec<u8>,
    io_error: impl Fn(std::io::Error) -> E,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    let cap = chunker.max_size() + read_size;
    let first = cap.min(read_size.saturating_mul(2));
    if buf.len() < first {
        buf.resize(first, 0);
    }
    let (mut start, mut end, mut eof, mut size) = (0usize, 0usize, false, 0u64);
    loop {
        while let Some(len) = chunker.find_cut(&buf[start..end], eof) {
            each(&buf[start..start + len])?;
            start += len;
        }
        if eof {
            return Ok(size);
        }
        if buf.len() - end < read_size {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        // The chunk being cut is longer than the buffer holds with a read's room: grow to the
        // most a chunk needs. Every read then has at least `read_size` bytes of room, so a read
        // of 0 bytes means the end of the input.
        if buf.len() - end < read_size && buf.len() < cap {
            buf.reserve_exact(cap - buf.len());
            buf.resize(cap, 0);
        }
        match reader.read(&mut buf[end..]) {
            Ok(0) => eof = true,
            Ok(n) => {
                end += n;
                size += n as u64;
            }
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

/// Cuts everything `reader` yields, whatever sizes its reads return, into chunks with ids.
///
/// `buf` is reused across calls; it grows to the chunker's maximum plus `read_size`.
pub fn chunk_reader<R: Read>(
    reader: R,
    settings: &ChunkSettings,
    read_size: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<FileChunks> {
    let mut chunker = Chunker::new(&settings.params, &settings.seed);
    let mut out = FileChunks::default();
    out.size = for_each_chunk(
        reader,
        &mut chunker,
        read_size,
        buf,
        |e| e,
        |chunk| {
            out.ids.push(settings.ids.id(chunk));
            // A chunk is at most 2^23 bytes.
            out.sizes.push(chunk.len() as u32);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Cuts the file at `path` into chunks with ids.
pub fn chunk_file(path: &Path, settings: &ChunkSettings) -> Result<FileChunks, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, &e))?;
    BUFFER
        .with(|b| chunk_reader(file, settings, READ_SIZE, &mut b.borrow_mut()))
        .map_err(|e| Error::io(path, &e))
}

/// Cuts many files on the worker pool; one result per path, in order.
pub fn chunk_files(paths: &[PathBuf], settings: &ChunkSettings) -> Vec<Result<FileChunks, Error>> {
    pool().install(|| paths.par_iter().map(|p| chunk_file(p, settings)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdAlgorithm;
    use proptest::prelude::*;

    /// A reader that returns pieces of the sizes it is given, in turn.
    struct Pieces<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let want = self.sizes[self.turn % self.sizes.len()];
            self.turn += 1;
            if want == 0 {
                return Err(std::io::Error::from(IoKind::Interrupted));
            }
            let n = want.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn settings(spec: &str) -> ChunkSettings {
        ChunkSettings {
            params: spec.parse().expect("spec"),
            seed: [1; 32],
            ids: IdHasher::new(IdAlgorithm::KeyedBlake3, &[2; 32]),
        }
    }

    fn data(len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        blake3::Hasher::new()
            .update(b"pipeline")
            .finalize_xof()
            .fill(&mut d);
        d
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_read_sizes_give_the_same_chunks(
            spec in prop::sample::select(vec!["buzhash,10,16,12,63", "fastcdc,10,16,12", "fixed,4096"]),
            len in 0usize..300_000,
            sizes in prop::collection::vec(0usize..100_000, 1..20),
            read_size in 1usize..200_000,
        ) {
            prop_assume!(sizes.iter().any(|&s| s > 0));
            let d = data(len);
            let s = settings(spec);
            let whole = Chunker::new(&s.params, &s.seed).cut_all(&d);
            let mut buf = Vec::new();
            let got = chunk_reader(Pieces { data: &d, sizes, turn: 0 }, &s, read_size, &mut buf)
                .expect("read");
            prop_assert_eq!(got.size, len as u64);
            let lens: Vec<usize> = got.sizes.iter().map(|&x| x as usize).collect();
            prop_assert_eq!(&lens, &whole);
            let mut at = 0;
            for (id, l) in got.ids.iter().zip(&lens) {
                prop_assert_eq!(*id, s.ids.id(&d[at..at + l]));
                at += l;
            }
        }
    }

    #[test]
    fn files_in_a_batch_and_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("hoard-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let d = data(3 << 20);
        let a = dir.join("a");
        let empty = dir.join("empty");
        std::fs::write(&a, &d).expect("write");
        std::fs::write(&empty, b"").expect("write");
        let s = settings("buzhash,16,20,18,4095");
        let res = chunk_files(&[a, empty, dir.join("missing")], &s);
        let first = res[0].as_ref().expect("a");
        assert_eq!(first.size, d.len() as u64);
        assert_eq!(
            first.sizes.iter().map(|&x| u64::from(x)).sum::<u64>(),
            first.size
        );
        assert!(first.ids.len() > 4);
        assert_eq!(res[1].as_ref().expect("empty"), &FileChunks::default());
        assert_eq!(
            res[2].as_ref().map_err(|e| e.kind),
            Err(crate::ErrorKind::NotFound)
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
