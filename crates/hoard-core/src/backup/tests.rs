use std::sync::{Arc, Mutex};

use super::*;
use crate::chunk_index::Location;
use crate::envelope::Opener;
use crate::fsmeta::ItemMeta;
use crate::id::{IdAlgorithm, IdHasher};
use crate::index_object::{self, IndexedPack};
use crate::keys::Suite;
use crate::pack;
use crate::restore::{Fetched, FilePiece, write_pieces};

const ENC: [u8; 32] = [3; 32];

fn data(seed: &str, len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut d);
    d
}

fn writer(index: Arc<Mutex<ChunkIndex>>, pack_size: usize) -> Writer {
    writer_cutting("buzhash,12,18,14,4095", index, pack_size)
}

fn writer_cutting(params: &str, index: Arc<Mutex<ChunkIndex>>, pack_size: usize) -> Writer {
    let config = WriterConfig {
        chunking: ChunkSettings {
            params: params.parse().expect("params"),
            seed: [1; 32],
            ids: IdHasher::new(IdAlgorithm::KeyedBlake3, &[2; 32]),
        },
        codec: "lz4".parse().expect("codec"),
        pack_size,
        queue: 1_000,
        staging: None,
    };
    let session = Session::new(Suite::Aes256Gcm, &ENC).expect("session");
    Writer::new(config, session, index, None)
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("hoard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn drain(w: &Writer) -> Vec<FinishedPack> {
    w.flush().expect("flush");
    w.close();
    let mut out = Vec::new();
    while let Some(p) = w.next_pack().expect("next") {
        out.push(p);
    }
    out
}

#[test]
fn files_round_trip_through_packs_and_an_index_object() {
    let dir = Dir::new("backup-rt");
    let a = data("a", 1 << 20);
    let mut b = data("b", 300_000);
    b.extend_from_slice(&a[..200_000]);
    b.extend_from_slice(&vec![0u8; 100_000]);
    let files = [("a", a.clone()), ("b", b.clone()), ("empty", Vec::new())];
    for (n, d) in &files {
        std::fs::write(dir.0.join(n), d).expect("write");
    }
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let w = writer(index.clone(), 256 << 10);
    let paths: Vec<PathBuf> = files.iter().map(|(n, _)| dir.0.join(n)).collect();
    let res: Vec<StoredFile> = w
        .store_files(&paths)
        .into_iter()
        .map(|r| r.expect("stored"))
        .collect();
    assert_eq!(res[0].size, a.len() as u64);
    assert_eq!(res[2], StoredFile::default());
    let packs = drain(&w);
    assert!(packs.len() >= 3, "{} packs", packs.len());
    let totals = w.totals();
    assert_eq!(totals.packs, packs.len() as u64);
    // b shares a's first 200 KB: those chunks are stored once. a and b are stored at once, so
    // either file may be the one that stores them: the pair adds fewer chunks than it names.
    assert!(res[0].new_chunks + res[1].new_chunks < (res[0].ids.len() + res[1].ids.len()) as u32);
    assert_eq!(
        totals.plain,
        res.iter().map(|r| r.new_plain).sum::<u64>(),
        "every new byte is counted once"
    );

    // Every pack's table lists its blobs, which open to the chunks.
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let mut indexed = Vec::new();
    for p in &packs {
        let toc = pack::read_toc(&opener, &p.id, &p.data).expect("toc");
        assert_eq!(toc, p.entries);
        indexed.push(IndexedPack {
            id: p.id,
            entries: toc,
        });
    }
    let session = Session::new(Suite::Aes256Gcm, &ENC).expect("session");
    let ix_id = [9u8; 32];
    let sealed = index_object::seal(&session, &ix_id, &indexed).expect("seal");
    let back = index_object::open(&opener, &ix_id, &sealed).expect("open");
    assert_eq!(back, indexed);
    assert!(index_object::open(&opener, &[8u8; 32], &sealed).is_err());
    let mut fresh = ChunkIndex::new();
    let added = index_object::add_to(&mut fresh, &back);
    assert_eq!(added as u64, totals.blobs);

    // A replacing index object says so, and moves blobs the index has to its places.
    let replacing = index_object::seal_as(&session, &ix_id, &indexed, true).expect("seal");
    let (again, flag) = index_object::open_flagged(&opener, &ix_id, &replacing).expect("open");
    assert_eq!((again, flag), (indexed.clone(), true));
    assert!(
        !index_object::open_flagged(&opener, &ix_id, &sealed)
            .expect("open")
            .1
    );
    let first = &indexed[0].entries[0];
    let placed_elsewhere = || {
        let mut ix = ChunkIndex::new();
        let elsewhere = ix.add_pack(&[0xee; 32]);
        ix.insert(
            &first.id,
            Location {
                pack: elsewhere,
                offset: 8,
                length: 1,
            },
            first.plain,
        );
        (ix, elsewhere)
    };
    let (mut kept, elsewhere) = placed_elsewhere();
    assert_eq!(
        index_object::add_to(&mut kept, &indexed) as u64,
        totals.blobs - 1
    );
    assert_eq!(kept.get(&first.id).map(|l| l.pack), Some(elsewhere));
    let (mut moved, elsewhere) = placed_elsewhere();
    assert_eq!(
        index_object::add_as(&mut moved, &indexed, true) as u64,
        totals.blobs - 1
    );
    assert_ne!(moved.get(&first.id).map(|l| l.pack), Some(elsewhere));

    // Restore from the fetched packs, with holes for the zero run of b.
    let numbers: Vec<u32> = packs.iter().map(|p| fresh.add_pack(&p.id)).collect();
    let fetched = Fetched::new(
        packs
            .iter()
            .zip(&numbers)
            .map(|(p, &n)| (n, 0, &p.data[..]))
            .collect(),
    );
    let out = Dir::new("restore-rt");
    let pieces: Vec<FilePiece> = files
        .iter()
        .zip(&res)
        .map(|((n, d), r)| FilePiece {
            item: ItemMeta {
                path: n.as_bytes().to_vec(),
                ..ItemMeta::default()
            },
            ids: r.ids.clone(),
            offset: 0,
            create: true,
            final_size: Some(d.len() as u64),
            sparse: true,
            sizes: None,
        })
        .collect();
    let root = out.0.as_os_str().as_encoded_bytes();
    let locate = |id: &ChunkId| fresh.get(id);
    for r in write_pieces(&opener, &locate, &fetched, root, &pieces).expect("root") {
        r.expect("written");
    }
    for (n, d) in &files {
        assert_eq!(&std::fs::read(out.0.join(n)).expect("read"), d, "{n}");
    }
}

#[test]
fn a_second_backup_of_the_same_files_stores_nothing() {
    let dir = Dir::new("backup-dedup");
    std::fs::write(dir.0.join("x"), data("x", 700_000)).expect("write");
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let first = writer(index.clone(), 1 << 20);
    let r1 = first.store_file(&dir.0.join("x")).expect("first");
    assert!(r1.new_chunks > 0);
    assert_eq!(drain(&first).len(), 1);
    let second = writer(index, 1 << 20);
    let r2 = second.store_file(&dir.0.join("x")).expect("second");
    assert_eq!(r2.ids, r1.ids);
    assert_eq!(r2.new_chunks, 0);
    assert_eq!(r2.stored, r1.stored);
    assert!(drain(&second).is_empty());
}

#[test]
fn a_flipped_byte_in_a_pack_is_found() {
    let dir = Dir::new("backup-flip");
    std::fs::write(dir.0.join("x"), data("y", 100_000)).expect("write");
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let w = writer(index.clone(), 1 << 20);
    let r = w.store_file(&dir.0.join("x")).expect("stored");
    let packs = drain(&w);
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let p = &packs[0];
    let ix = lock(&index);
    let n = ix.packs().iter().position(|q| q == &p.id).expect("pack") as u32;
    // Every byte of the pack matters: blobs fail to open, the table fails to open or parse.
    for at in (0..p.data.len()).step_by(97) {
        let mut bad = p.data.clone();
        bad[at] ^= 0x40;
        let fetched = Fetched::new(vec![(n, 0, &bad[..])]);
        let blobs_ok = r.ids.iter().all(|id| {
            crate::restore::open_blob(
                &opener,
                &|i: &ChunkId| ix.get(i),
                &fetched,
                CHUNK_TYPE,
                id,
                1 << 24,
            )
            .is_ok()
        });
        let toc_ok = pack::read_toc(&opener, &p.id, &bad).is_ok_and(|t| t == p.entries);
        assert!(!(blobs_ok && toc_ok), "flip at {at} went unnoticed");
    }
}

#[test]
fn a_full_queue_makes_workers_wait_and_abort_wakes_them() {
    let dir = Dir::new("backup-queue");
    std::fs::write(dir.0.join("x"), data("q", 2 << 20)).expect("write");
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let mut w = writer(index, 64 << 10);
    w.config.queue = 1;
    let w = Arc::new(w);
    let worker = {
        let w = w.clone();
        let p = dir.0.join("x");
        std::thread::spawn(move || w.store_file(&p))
    };
    // Take one pack, then give up: the blocked worker must return with the error.
    assert!(w.next_pack().expect("first").is_some());
    w.abort(Error::new(ErrorKind::Io, "disk full"));
    let got = worker.join().expect("join");
    assert_eq!(got.map_err(|e| e.message), Err("disk full".to_string()));
}

/// Limits under which a file is stored as it is cut, on one worker.
const SEQUENTIAL: in_flight::Limits = in_flight::Limits {
    inline: u64::MAX,
    batch: 1,
    batches: 1,
};

/// `blocks` random blocks of `len` bytes, repeated in a scrambled order to `total` bytes.
fn repetitive(blocks: usize, len: usize, total: usize) -> Vec<u8> {
    let pool: Vec<Vec<u8>> = (0..blocks)
        .map(|i| data(&format!("block{i}"), len))
        .collect();
    let order = data("order", total / len + 1);
    let mut d = Vec::with_capacity(total + len);
    for &o in &order {
        if d.len() >= total {
            break;
        }
        d.extend_from_slice(&pool[o as usize % blocks]);
    }
    d.truncate(total);
    d
}

/// Stores `d` with `limits` into a fresh index; the result, the writer's totals and every blob
/// of the packs (type, id, plaintext length), sorted.
fn store_with(
    params: &str,
    d: &[u8],
    limits: in_flight::Limits,
) -> (StoredFile, WriterTotals, Vec<(u8, ChunkId, u32)>) {
    let w = writer_cutting(params, Arc::new(Mutex::new(ChunkIndex::new())), 256 << 10);
    let stored = w
        .store_spread(d, Path::new("data"), limits)
        .expect("stored");
    let mut blobs: Vec<(u8, ChunkId, u32)> = drain(&w)
        .iter()
        .flat_map(|p| p.entries.iter().map(|e| (e.obj_type, e.id, e.plain)))
        .collect();
    blobs.sort_unstable();
    (stored, w.totals(), blobs)
}

#[test]
fn a_large_file_with_repeated_chunks_in_flight_stores_each_once() {
    let d = repetitive(8, 200_000, 12 << 20);
    let params = "buzhash,12,18,14,4095";
    let s = ChunkSettings {
        params: params.parse().expect("params"),
        seed: [1; 32],
        ids: IdHasher::new(IdAlgorithm::KeyedBlake3, &[2; 32]),
    };
    let cut = crate::pipeline::chunk_reader(&d[..], &s, 1 << 20, &mut Vec::new()).expect("cut");
    let spread = in_flight::Limits {
        inline: 100_000,
        batch: 64 << 10,
        batches: 3,
    };
    let (got, totals, blobs) = store_with(params, &d, spread);
    assert_eq!(
        (got.size, &got.ids, &got.sizes),
        (cut.size, &cut.ids, &cut.sizes)
    );
    let mut unique = cut.ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert!(
        unique.len() * 4 < cut.ids.len(),
        "{} of {}",
        unique.len(),
        cut.ids.len()
    );
    // Each distinct chunk is one blob, whichever copy claimed it first.
    assert_eq!(got.new_chunks as usize, unique.len());
    assert_eq!(totals.blobs as usize, unique.len());
    let mut ids: Vec<ChunkId> = blobs.iter().map(|b| b.1).collect();
    ids.dedup();
    assert_eq!(ids, unique);
    assert_eq!(got, store_with(params, &d, SEQUENTIAL).0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn spreading_a_file_over_the_pool_changes_nothing_but_the_pack_order(
        params in proptest::sample::select(vec![
            "buzhash,10,16,12,63", "fastcdc,10,16,12", "fixed,4096", "fixed,3000,700",
        ]),
        blocks in 1usize..40,
        len in 1usize..600_000,
        inline in 0u64..100_000,
        batch in 1usize..100_000,
        batches in 1usize..4,
    ) {
        let d = repetitive(blocks, 7_919, len);
        let limits = in_flight::Limits { inline, batch, batches };
        let (seq, seq_totals, seq_blobs) = store_with(params, &d, SEQUENTIAL);
        let (got, totals, blobs) = store_with(params, &d, limits);
        proptest::prop_assert_eq!(got.size, len as u64);
        proptest::prop_assert_eq!(got, seq);
        proptest::prop_assert_eq!(totals.blobs, seq_totals.blobs);
        proptest::prop_assert_eq!(totals.plain, seq_totals.plain);
        proptest::prop_assert_eq!(totals.stored, seq_totals.stored);
        proptest::prop_assert_eq!(blobs, seq_blobs);
    }
}

/// A reader that yields `data`, then fails.
struct FailingAfter<'a>(&'a [u8]);

impl Read for FailingAfter<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("device gone"));
        }
        let n = out.len().min(self.0.len()).min(300_000);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn a_read_error_in_the_middle_of_a_large_file_fails_that_file_only() {
    let d = data("fail", 5 << 20);
    let w = writer(Arc::new(Mutex::new(ChunkIndex::new())), 1 << 20);
    let err = w
        .store_reader(FailingAfter(&d), Path::new("broken"))
        .expect_err("read error");
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("broken"), "{}", err.message);
    // The writer goes on: the same bytes from a good reader are stored, the chunks that were
    // stored before the error are not stored again.
    let before = w.totals().blobs;
    assert!(before > 0);
    let ok = w.store_reader(&d[..], Path::new("good")).expect("stored");
    assert_eq!(ok.size, d.len() as u64);
    assert_eq!(u64::from(ok.new_chunks) + before, w.totals().blobs);
    assert_eq!(
        drain(&w).iter().map(|p| p.entries.len()).sum::<usize>() as u64,
        w.totals().blobs
    );
}

#[test]
fn a_chunk_met_while_another_file_stores_it_is_counted_once_stored() {
    let dir = Dir::new("backup-settle");
    let d = data("settle", 1000);
    std::fs::write(dir.0.join("a"), &d).expect("write");
    std::fs::write(dir.0.join("b"), &d).expect("write");
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let w = writer(index.clone(), 1 << 20);
    // Another thread has claimed the chunk and is still compressing it.
    let id = w.config.chunking.ids.id(&d);
    let pending = Location {
        pack: PENDING,
        offset: 0,
        length: 0,
    };
    assert!(lock(&index).insert(&id, pending, 0));
    let mut r = w.store_file(&dir.0.join("a")).expect("store");
    assert!(r.unsettled);
    assert_eq!((r.stored, r.new_chunks), (0, 0));
    w.settle(&mut r);
    assert!(r.unsettled, "still pending: nothing to count yet");
    // It is stored now.
    let pack = lock(&index).add_pack(&[9; 32]);
    let stored = Location {
        pack,
        offset: 8,
        length: 123,
    };
    assert!(
        !lock(&index).replace(&id, stored, d.len() as u32),
        "the id was there, pending"
    );
    w.settle(&mut r);
    assert!(!r.unsettled);
    assert_eq!(r.stored, 123);

    // Two files with the same chunk in one batch: the same csize, whichever stored it.
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let w = writer(index, 1 << 20);
    let both = w.store_files(&[dir.0.join("a"), dir.0.join("b")]);
    let both: Vec<StoredFile> = both.into_iter().map(|r| r.expect("store")).collect();
    assert!(both.iter().all(|f| !f.unsettled));
    assert_eq!(both[0].stored, both[1].stored);
    assert_eq!(both[0].new_stored + both[1].new_stored, both[0].stored);
}

#[test]
fn packs_are_staged_while_the_reserve_is_free_and_an_abort_leaves_no_staging_file() {
    let dir = Dir::new("backup-staged");
    let staging = dir.0.join("packs");
    let a = data("staged", 3 << 20);
    std::fs::write(dir.0.join("a"), &a).expect("write");
    let staged_writer = |reserve: u64| {
        let mut w = writer(Arc::new(Mutex::new(ChunkIndex::new())), 1 << 20);
        w.config.staging = Some(Staging {
            dir: staging.clone(),
            reserve,
        });
        w
    };
    let files = |dir: &Path| std::fs::read_dir(dir).map_or(0, |d| d.count());
    // Room: every pack is a staging file (made in the folder, which is made first), read back whole.
    let w = staged_writer(0);
    w.store_file(&dir.0.join("a")).expect("stored");
    let packs = drain(&w);
    assert!(packs.len() >= 2, "{} packs", packs.len());
    assert_eq!(files(&staging), packs.len());
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    for p in packs {
        assert!(p.data.is_empty());
        let size = p.size();
        let bytes = crate::pack_bytes::PackBytes::staged(p.file.expect("staged"))
            .take()
            .expect("bytes");
        assert_eq!(bytes.len(), size);
        assert_eq!(
            pack::read_toc(&opener, &p.id, &bytes).expect("toc"),
            p.entries
        );
    }
    assert_eq!(files(&staging), 0);
    // An abort drops the pack being filled with its staging file, and no new one is started.
    let w = staged_writer(0);
    w.store(CHUNK_TYPE, &[9; 32], b"one blob").expect("stored");
    assert_eq!(files(&staging), 1);
    w.abort(Error::new(ErrorKind::Io, "the disk is gone"));
    assert_eq!(files(&staging), 0);
    assert!(w.store(CHUNK_TYPE, &[8; 32], b"another").is_err());
    assert_eq!(files(&staging), 0);
    // A reserve the file system cannot keep: packs are built in memory.
    let w = staged_writer(u64::MAX / 4);
    w.store_file(&dir.0.join("a")).expect("stored");
    let packs = drain(&w);
    assert!(packs.iter().all(|p| p.file.is_none() && !p.data.is_empty()));
    assert_eq!(files(&staging), 0);
}

/// The stat a walk would have seen of `path`, with `ctime_shift` ns added to its ctime (as if the
/// file changed after the walk).
fn seen(path: &Path, ctime_shift: i64) -> FileStat {
    let m = std::fs::metadata(path).expect("stat");
    let (ctime, mtime) = times_ns(&m);
    FileStat {
        inode: m.ino(),
        size: m.len(),
        mtime,
        ctime: ctime + ctime_shift,
    }
}

#[test]
fn a_file_whose_time_moved_while_it_was_read_is_changed_and_not_remembered() {
    let dir = Dir::new("changed-while-read");
    let path = dir.0.join("f");
    std::fs::write(&path, data("changed", 100_000)).expect("write");
    let files = Arc::new(Mutex::new(FilesCache::new(
        "ctime,size,inode".parse().expect("mode"),
        20,
        i64::MAX,
    )));
    let index = Arc::new(Mutex::new(ChunkIndex::default()));
    let mut w = writer(index, 1 << 20);
    w.files = Some(Arc::clone(&files));
    let job = |shift: i64, changed: ChangeCheck| FileJob {
        path: path.clone(),
        stat: Some(seen(&path, shift)),
        meta: None,
        changed,
    };
    let key = path.as_os_str().as_encoded_bytes();
    // The walk saw another ctime than the descriptor shows after reading: `C`, not remembered.
    let out = w.store_job(&job(-1, ChangeCheck::Ctime)).expect("store");
    assert_eq!(out.status, FileStatus::Changed);
    assert_eq!(out.size, 100_000);
    let stat = seen(&path, -1);
    assert!(matches!(lock(&files).lookup(key, &stat), Lookup::Unknown));
    // With mtime as the witness, the same ctime difference is no change; the file is remembered
    // under the walk's stat.
    let out = w.store_job(&job(-1, ChangeCheck::Mtime)).expect("store");
    assert_eq!(out.status, FileStatus::Added);
    assert!(matches!(lock(&files).lookup(key, &stat), Lookup::Hit(..)));
    // Disabled: no check at all.
    let out = w.store_job(&job(-7, ChangeCheck::Disabled)).expect("store");
    assert_ne!(out.status, FileStatus::Changed);
    // An untouched file is not changed.
    std::fs::write(&path, data("changed again", 100_000)).expect("write");
    let out = w.store_job(&job(0, ChangeCheck::Ctime)).expect("store");
    assert_eq!(out.status, FileStatus::Modified);
}

#[test]
fn a_run_of_small_files_frees_the_large_buffers_and_a_large_file_grows_them_again() {
    // Fixed 4 MiB chunks: a large file needs a read buffer of 5 MiB, past what a run of small
    // files keeps. The test's own thread cuts the files, so its buffers are the ones measured.
    let w = writer_cutting(
        "fixed,4194304",
        Arc::new(Mutex::new(ChunkIndex::new())),
        1 << 20,
    );
    let large = data("large", 10 << 20);
    let first = w
        .store_reader(std::io::Cursor::new(&large), Path::new("large"))
        .expect("large");
    assert_eq!(first.sizes, [4 << 20, 4 << 20, 2 << 20]);
    // A blob of 3 MiB compressed and sealed on this thread: its blob buffer is as large.
    let blob = data("blob", 3 << 20);
    let id = w.config.chunking.ids.id(&blob);
    assert!(w.store(CHUNK_TYPE, &id, &blob).expect("store").is_some());
    let (read, body) = buffer_capacities();
    assert!(read > KEPT_BUFFER && body > KEPT_BUFFER, "{read} {body}");

    let small = data("small", SMALL_FILE as usize);
    let one = |i: u32| {
        let d = &small[..(i as usize * 997) % small.len() + 1];
        let got = w
            .store_reader(std::io::Cursor::new(d), Path::new("small"))
            .expect("small");
        assert_eq!(got.size, d.len() as u64);
        assert_eq!(got.ids, [w.config.chunking.ids.id(d)]);
    };
    for i in 1..SMALL_RUN_RELEASE {
        one(i);
    }
    let (read, body) = buffer_capacities();
    assert!(
        read > KEPT_BUFFER && body > KEPT_BUFFER,
        "kept until the run is long enough"
    );
    one(SMALL_RUN_RELEASE);
    let (read, body) = buffer_capacities();
    assert!(read <= KEPT_BUFFER && body <= KEPT_BUFFER, "{read} {body}");
    // More small files keep the buffers small: none needs more.
    for i in 0..10 {
        one(SMALL_RUN_RELEASE + 1 + i);
    }
    let (read, _) = buffer_capacities();
    assert!(read <= KEPT_BUFFER, "{read}");

    // The next large file grows the read buffer again and is cut as before.
    let again = w
        .store_reader(std::io::Cursor::new(&large), Path::new("large"))
        .expect("large again");
    assert_eq!((again.ids, again.sizes), (first.ids, first.sizes));
    assert!(buffer_capacities().0 > KEPT_BUFFER);
    drain(&w);
}
