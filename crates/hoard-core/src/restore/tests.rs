//! Tests of writing file pieces on real files: contents, holes, metadata set through the
//! descriptor, replacing what is there, and paths that would leave the root.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use super::*;
use crate::codec::Codec;
use crate::envelope::Session;
// A directory under /var/tmp (a disk file system, for holes and xattrs), removed when dropped.
use crate::fsmeta::restore::USER_MODIFIABLE_FLAGS;
use crate::fsmeta::tests::{TempDir, is_root};
use crate::keys::Suite;

const ENC: [u8; 32] = [5; 32];

/// Chunks sealed into one fetched range, as a pack would hold them.
struct Store {
    range: Vec<u8>,
    places: HashMap<ChunkId, Location>,
    opener: Opener,
}

impl Store {
    /// Seals each chunk under id `[n; 32]` (its place in `chunks`), stored as is.
    fn new(chunks: &[Vec<u8>]) -> Self {
        Self::with_codec(chunks, Codec::None)
    }

    /// Seals each chunk under id `[n; 32]`, compressed with `codec`.
    fn with_codec(chunks: &[Vec<u8>], codec: Codec) -> Self {
        let session = Session::new(Suite::Aes256Gcm, &ENC).expect("session");
        let mut range = Vec::new();
        let mut places = HashMap::new();
        for (n, c) in chunks.iter().enumerate() {
            let id = [u8::try_from(n).expect("few chunks"); 32];
            let frame = codec::compress(codec, c).expect("frame");
            let blob = session.seal(CHUNK_TYPE, &id, &frame).expect("seal");
            let loc = Location {
                pack: 0,
                offset: u32::try_from(range.len()).expect("small"),
                length: u32::try_from(blob.len()).expect("small"),
            };
            places.insert(id, loc);
            range.extend_from_slice(&blob);
        }
        Self {
            range,
            places,
            opener: Opener::new(Suite::Aes256Gcm, &ENC),
        }
    }

    /// Writes `pieces` beneath `root`.
    fn write(&self, root: &Path, pieces: &[FilePiece]) -> Vec<Result<PieceDone>> {
        let fetched = Fetched::new(vec![(0, 0, &self.range[..])]);
        let locate = |id: &ChunkId| self.places.get(id).copied();
        write_pieces(
            &self.opener,
            &locate,
            &fetched,
            root.as_os_str().as_bytes(),
            pieces,
        )
        .expect("root")
    }
}

/// The one piece of a whole file made of chunks `ids` (by number), `size` bytes.
fn whole(path: &str, ids: &[u8], size: u64) -> FilePiece {
    FilePiece {
        item: ItemMeta {
            path: path.as_bytes().to_vec(),
            ..ItemMeta::default()
        },
        ids: ids.iter().map(|&n| [n; 32]).collect(),
        offset: 0,
        create: true,
        final_size: Some(size),
        sparse: false,
        sizes: None,
    }
}

fn ns(m: &fs::Metadata) -> (i64, i64) {
    (
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        m.atime() * 1_000_000_000 + m.atime_nsec(),
    )
}

#[test]
fn metadata_is_set_through_the_descriptor_exactly_after_the_last_write() {
    let t = TempDir::new("meta");
    fs::create_dir(t.path().join("d")).unwrap();
    let chunks = vec![b"first part ".to_vec(), b"and the second".to_vec()];
    let store = Store::new(&chunks);
    let mtime = 1_234_567_890_123_456_789_i64;
    let atime = 1_000_000_000_000_000_001_i64;
    let with = |path: &str, mode: u32| {
        let mut p = whole(path, &[0, 1], 25);
        p.item.mode = Some(mode);
        p.item.mtime_ns = Some(mtime);
        p.item.atime_ns = Some(atime);
        if is_root() {
            // The owner changes, and a set-id bit still comes out as archived.
            p.item.uid = Some(4321);
            p.item.gid = Some(4322);
        }
        p
    };
    let mut pieces = vec![
        with("d/read-only", 0o444),
        with("d/setuid", 0o4755),
        with("d/setgid-sticky", 0o3750),
        with("none", 0o000),
    ];
    pieces[1].item.xattrs = vec![fsmeta::Xattr {
        name: b"user.hoard".to_vec(),
        value: b"through the descriptor".to_vec(),
    }];
    let results = store.write(t.path(), &pieces);
    for (p, r) in pieces.iter().zip(&results) {
        let done = r.as_ref().expect("written");
        assert_eq!(done.written, 25);
        let xattr_unsupported = done
            .warnings
            .iter()
            .all(|(op, e)| *op == Op::Xattr && e.message.contains("not supported"));
        assert!(xattr_unsupported, "{:?}", done.warnings);
        let path = t
            .path()
            .join(String::from_utf8_lossy(&p.item.path).as_ref());
        let m = fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o7777,
            p.item.mode.unwrap(),
            "{path:?}"
        );
        assert_eq!(ns(&m), (mtime, atime), "{path:?}");
        assert_eq!(fs::read(&path).unwrap(), b"first part and the second");
        if is_root() {
            assert_eq!((m.uid(), m.gid()), (4321, 4322));
        }
    }
    if results[1].as_ref().unwrap().warnings.is_empty() {
        let mut buf = [0u8; 64];
        let n = rustix::fs::getxattr(t.path().join("d/setuid"), "user.hoard", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"through the descriptor");
    }
}

#[test]
fn a_file_in_pieces_gets_its_metadata_with_the_last_and_keeps_a_final_hole() {
    let t = TempDir::new("pieces");
    let block = 64 << 10;
    let chunks = vec![vec![7u8; block], vec![0u8; block], vec![0u8; 3 * block]];
    let store = Store::new(&chunks);
    let size = 5 * block as u64;
    let mut first = whole("big", &[0, 1], size);
    first.final_size = None;
    first.sparse = true;
    let mut last = whole("big", &[2], size);
    last.create = false;
    last.offset = 2 * block as u64;
    last.sparse = true;
    last.item.mode = Some(0o400);
    last.item.mtime_ns = Some(1_500_000_000_000_000_007);
    // The first piece leaves the file writable for the second.
    store.write(t.path(), &[first])[0].as_ref().expect("first");
    let m = fs::metadata(t.path().join("big")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o600);
    assert_eq!(m.len(), block as u64);
    let done = store.write(t.path(), &[last]).remove(0).expect("last");
    assert_eq!(done.written, 3 * block as u64);
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let m = fs::metadata(t.path().join("big")).unwrap();
    assert_eq!(m.len(), size, "the final hole is kept");
    assert_eq!(m.permissions().mode() & 0o7777, 0o400);
    assert_eq!(ns(&m).0, 1_500_000_000_000_000_007);
    assert!(m.blocks() * 512 < 2 * block as u64, "{} blocks", m.blocks());
    let mut want = vec![7u8; block];
    want.resize(5 * block, 0);
    assert_eq!(fs::read(t.path().join("big")).unwrap(), want);
    // A sparse file that ends in data, and an empty file.
    let mut tail = whole("tail", &[1, 0], 2 * block as u64);
    tail.sparse = true;
    let empty = whole("empty", &[], 0);
    for r in store.write(t.path(), &[tail, empty]) {
        r.expect("written");
    }
    assert_eq!(
        fs::read(t.path().join("tail")).unwrap()[block..],
        vec![7u8; block]
    );
    assert_eq!(fs::metadata(t.path().join("empty")).unwrap().len(), 0);
}

#[test]
fn a_first_piece_replaces_a_file_or_symlink_but_not_a_directory() {
    let t = TempDir::new("replace");
    let outside = TempDir::new("replace-outside");
    fs::write(outside.path().join("victim"), b"untouched").unwrap();
    fs::create_dir(t.path().join("d")).unwrap();
    fs::write(
        t.path().join("d/old"),
        b"a longer old content than the new one",
    )
    .unwrap();
    fs::set_permissions(t.path().join("d/old"), fs::Permissions::from_mode(0o444)).unwrap();
    symlink(outside.path().join("victim"), t.path().join("d/link")).unwrap();
    fs::create_dir(t.path().join("d/dir")).unwrap();
    let store = Store::new(&[b"new".to_vec()]);
    let r = store.write(
        t.path(),
        &[
            whole("d/old", &[0], 3),
            whole("d/link", &[0], 3),
            whole("d/dir", &[0], 3),
        ],
    );
    r[0].as_ref().expect("old replaced");
    r[1].as_ref().expect("link replaced");
    assert_eq!(fs::read(t.path().join("d/old")).unwrap(), b"new");
    assert!(
        fs::symlink_metadata(t.path().join("d/link"))
            .unwrap()
            .is_file()
    );
    assert_eq!(fs::read(t.path().join("d/link")).unwrap(), b"new");
    assert_eq!(
        fs::read(outside.path().join("victim")).unwrap(),
        b"untouched"
    );
    let e = r[2].as_ref().expect_err("a directory stays");
    assert_eq!(e.kind, ErrorKind::Exists, "{e}");
    assert!(t.path().join("d/dir").is_dir());
}

#[test]
fn paths_that_would_leave_the_root_are_refused_and_the_batch_goes_on() {
    let t = TempDir::new("escape");
    let outside = TempDir::new("escape-outside");
    fs::create_dir(t.path().join("d")).unwrap();
    symlink(outside.path(), t.path().join("out")).unwrap();
    symlink("d", t.path().join("inside-link")).unwrap();
    let store = Store::new(&[b"data".to_vec()]);
    let paths = [
        "../escaped",
        "/abs",
        "d/../../escaped",
        "out/escaped",
        "out/deeper/escaped",
        "inside-link/x",
        "d/ok",
        "ok",
    ];
    let pieces: Vec<FilePiece> = paths.iter().map(|p| whole(p, &[0], 4)).collect();
    let r = store.write(t.path(), &pieces);
    for (p, r) in paths.iter().zip(&r) {
        if p.ends_with("ok") {
            r.as_ref().expect("written");
            assert_eq!(fs::read(t.path().join(p)).unwrap(), b"data");
        } else {
            let e = r.as_ref().expect_err(p);
            assert!(
                matches!(
                    e.kind,
                    ErrorKind::InvalidArgument | ErrorKind::PermissionDenied | ErrorKind::NotFound
                ),
                "{p}: {e}"
            );
        }
    }
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(!t.path().parent().unwrap().join("escaped").exists());
    assert!(!t.path().join("d/x").exists());
}

#[test]
fn many_files_share_their_directories_in_one_batch() {
    let t = TempDir::new("dirs");
    for d in ["a", "a/b", "c"] {
        fs::create_dir(t.path().join(d)).unwrap();
    }
    let store = Store::new(&[b"x".to_vec(), b"yz".to_vec()]);
    let mut pieces = Vec::new();
    for d in ["a/", "a/b/", "c/", "", "missing/"] {
        for i in 0..20 {
            pieces.push(whole(&format!("{d}f{i}"), &[0, 1], 3));
        }
    }
    for (p, r) in pieces.iter().zip(store.write(t.path(), &pieces)) {
        let path = String::from_utf8_lossy(&p.item.path).into_owned();
        if path.starts_with("missing/") {
            let e = r.expect_err(&path);
            assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
            assert!(e.message.contains(&path), "{e}");
        } else {
            r.expect("written");
            assert_eq!(fs::read(t.path().join(&path)).unwrap(), b"xyz", "{path}");
        }
    }
}

/// Bytes that lz4 cannot shrink (a simple generator; `seed` varies them).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Chunks of a large file: lengths that are not multiples of 4 KiB, so that most chunks start
/// and end inside a block; some above `DIRECT_MIN` (whole blocks written directly), some below;
/// stored ones (noise) and compressed ones (text), and one with runs of zeros for holes.
fn large_chunks() -> Vec<Vec<u8>> {
    let text = |len: usize, n: u64| -> Vec<u8> {
        format!("line {n} of a compressible chunk\n")
            .into_bytes()
            .into_iter()
            .cycle()
            .take(len)
            .collect()
    };
    let mut zeros_inside = noise(1_500_001, 9);
    zeros_inside[200_000..1_300_000].fill(0);
    vec![
        noise(1_234_567, 1),
        text(2_000_003, 2),
        noise(200_003, 3),
        noise(3_145_739, 4),
        text(1_048_577, 5),
        zeros_inside,
        vec![0u8; 1_310_720],
        noise(4_099, 7),
    ]
}

/// The plaintext lengths of chunks `ids` of `chunks`, as an item lists them.
fn sizes_of(chunks: &[Vec<u8>], ids: &[u8]) -> Option<Vec<u32>> {
    Some(
        ids.iter()
            .map(|&n| u32::try_from(chunks[n as usize].len()).expect("small"))
            .collect(),
    )
}

#[test]
fn large_files_in_many_chunks_and_pieces_round_trip_byte_for_byte() {
    // With the chunks' sizes given, a piece's chunks are written in parallel.
    for (codec, sparse, with_sizes) in [Codec::None, Codec::Lz4]
        .into_iter()
        .flat_map(|c| [false, true].map(|s| (c, s)))
        .flat_map(|(c, s)| [false, true].map(|z| (c, s, z)))
    {
        let t = TempDir::new("large");
        let chunks = large_chunks();
        let store = Store::with_codec(&chunks, codec);
        let want: Vec<u8> = chunks.concat();
        let size = want.len() as u64;
        let sizes = |ids: &[u8]| sizes_of(&chunks, ids).filter(|_| with_sizes);
        // The whole file in one piece, and the same in three pieces (each its own call).
        let mut one = whole("one", &[0, 1, 2, 3, 4, 5, 6, 7], size);
        one.sparse = sparse;
        one.sizes = sizes(&[0, 1, 2, 3, 4, 5, 6, 7]);
        let cuts: [&[u8]; 3] = [&[0, 1], &[2, 3, 4], &[5, 6, 7]];
        let mut offset = 0;
        let mut pieces = Vec::new();
        for (i, ids) in cuts.iter().enumerate() {
            let mut p = whole("three", ids, size);
            p.create = i == 0;
            p.offset = offset;
            p.sparse = sparse;
            p.sizes = sizes(ids);
            if i < 2 {
                p.final_size = None;
            }
            offset += ids
                .iter()
                .map(|&n| chunks[n as usize].len() as u64)
                .sum::<u64>();
            pieces.push(p);
        }
        store.write(t.path(), &[one])[0].as_ref().expect("written");
        for p in pieces {
            store.write(t.path(), &[p])[0].as_ref().expect("piece");
        }
        for name in ["one", "three"] {
            let path = t.path().join(name);
            let got = fs::read(&path).unwrap();
            let case = format!("{name} {codec:?} sparse={sparse} sizes={with_sizes}");
            assert_eq!(got.len(), want.len(), "{case}");
            assert!(got == want, "{case}: contents differ");
            let m = fs::metadata(&path).unwrap();
            if sparse {
                // The zero runs (1.1 MB inside a chunk, a whole chunk of 1.3 MB) stay holes.
                assert!(m.blocks() * 512 < size - 2_000_000, "{} blocks", m.blocks());
            } else {
                assert!(m.blocks() * 512 >= size, "{} blocks", m.blocks());
            }
        }
    }
}

#[test]
fn parallel_chunks_after_a_direct_write_ending_on_a_block_go_through_the_same_descriptor() {
    // Large chunks that end on a 4 KiB boundary (their last write is direct, so `O_DIRECT` is
    // still on) and short ones of an odd length (written through the page cache), two of each in
    // turn: with the chunks dealt to two lanes in turn, each lane writes a short one after a long
    // one through its descriptor, and must turn `O_DIRECT` off in between.
    let mut chunks = Vec::new();
    let mut at = 0usize;
    for n in 0..12u64 {
        let len = if n % 4 < 2 {
            (at + 1_200_000).div_ceil(ALIGN_TEST) * ALIGN_TEST - at
        } else {
            5_000
        };
        chunks.push(noise(len, 20 + n));
        at += len;
    }
    let ids: Vec<u8> = (0..u8::try_from(chunks.len()).expect("few")).collect();
    for codec in [Codec::None, Codec::Lz4] {
        let t = TempDir::new("odd");
        let store = Store::with_codec(&chunks, codec);
        let want = chunks.concat();
        let mut p = whole("f", &ids, want.len() as u64);
        p.sizes = sizes_of(&chunks, &ids);
        store.write(t.path(), &[p])[0].as_ref().expect("written");
        assert!(fs::read(t.path().join("f")).unwrap() == want, "{codec:?}");
    }
}

/// The block size direct writes are aligned to.
const ALIGN_TEST: usize = crate::direct_write::ALIGN;

#[test]
fn a_chunk_of_another_length_than_its_item_says_fails_its_piece() {
    let t = TempDir::new("sizes");
    let chunks = large_chunks();
    let store = Store::new(&chunks);
    let size = chunks[..3].iter().map(|c| c.len() as u64).sum();
    let mut p = whole("f", &[0, 1, 2], size);
    let mut sizes = sizes_of(&chunks, &[0, 1, 2]).expect("sizes");
    // The same total, split differently: the bytes would land at the wrong offsets.
    sizes[0] += 1;
    sizes[1] -= 1;
    p.sizes = Some(sizes);
    let e = store.write(t.path(), &[p]).remove(0).expect_err("an error");
    assert_eq!(e.kind, ErrorKind::Corrupt, "{e:?}");
    assert!(e.message.contains("the item says"), "{}", e.message);
    // The file cut short is gone, not left to pass for the archived one.
    assert!(!t.path().join("f").exists());
}

#[test]
fn a_worker_reuses_its_buffers_for_chunks_of_every_size() {
    // Large, then small, then large again, on one thread: each chunk comes out whole from buffers
    // left longer (and holding the bytes of the chunk before) by the chunk before it.
    let t = TempDir::new("reuse");
    let chunks = vec![noise(3_000_017, 11), b"tiny".to_vec(), noise(1_100_003, 12)];
    for codec in [Codec::None, Codec::Lz4] {
        let store = Store::with_codec(&chunks, codec);
        let pieces = [
            whole("a", &[0], 3_000_017),
            whole("b", &[1], 4),
            whole("c", &[2, 1, 0], 4_100_024),
        ];
        pool().install(|| {
            for p in &pieces {
                store.write(t.path(), std::slice::from_ref(p))[0]
                    .as_ref()
                    .expect("written");
            }
        });
        assert_eq!(fs::read(t.path().join("a")).unwrap(), chunks[0]);
        assert_eq!(fs::read(t.path().join("b")).unwrap(), b"tiny");
        assert!(
            fs::read(t.path().join("c")).unwrap() == [&chunks[2][..], b"tiny", &chunks[0]].concat()
        );
    }
}

#[test]
fn a_whole_file_is_created_with_its_own_mode_only_when_it_keeps_its_owner() {
    let ids = (1000, 1000);
    let mut p = whole("f", &[0], 1);
    p.item.mode = Some(0o4755);
    // Set-id and sticky bits are left to fchmod; permission bits are given at once.
    assert_eq!(create_mode(&p, true, ids), 0o755);
    p.item.uid = Some(1000);
    p.item.gid = Some(1000);
    assert_eq!(create_mode(&p, true, ids), 0o755);
    // A directory of another group (setgid, or a grpid mount) would give the file that group.
    assert_eq!(create_mode(&p, false, ids), 0o600);
    // An owner to be set afterwards: nobody else reads the contents meanwhile.
    p.item.gid = Some(1001);
    assert_eq!(create_mode(&p, true, ids), 0o600);
    p.item.gid = Some(1000);
    p.item.uid = Some(0);
    assert_eq!(create_mode(&p, true, ids), 0o600);
    // A file in pieces is opened again for writing by the later ones.
    p.item.uid = Some(1000);
    p.final_size = None;
    assert_eq!(create_mode(&p, true, ids), 0o600);
    p.final_size = Some(1);
    p.create = false;
    assert_eq!(create_mode(&p, true, ids), 0o600);
}

#[test]
fn files_keeping_the_process_owner_come_out_with_exact_modes_and_groups() {
    let t = TempDir::new("own");
    let (uid, gid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    fs::create_dir(t.path().join("d")).unwrap();
    // A setgid directory of another group: its files get that group until chowned back.
    fs::create_dir(t.path().join("g")).unwrap();
    let other_group = is_root()
        && std::os::unix::fs::chown(t.path().join("g"), None, Some(4322)).is_ok()
        && fs::set_permissions(t.path().join("g"), fs::Permissions::from_mode(0o2777)).is_ok();
    let store = Store::new(&[b"contents".to_vec()]);
    let with = |path: &str, mode: u32| {
        let mut p = whole(path, &[0], 8);
        p.item.mode = Some(mode);
        p.item.mtime_ns = Some(1_600_000_000_000_000_003);
        if is_root() {
            p.item.uid = Some(uid);
            p.item.gid = Some(gid);
        }
        p
    };
    // Modes the umask would cut (0o666, 0o777), that forbid writing (0o444, 0), with set-id bits,
    // and a plain one.
    let pieces = vec![
        with("d/rw-all", 0o666),
        with("d/rwx-all", 0o777),
        with("d/read-only", 0o444),
        with("d/nothing", 0o000),
        with("d/setgid", 0o2755),
        with("d/plain", 0o644),
        with("g/in-setgid-dir", 0o640),
    ];
    for (p, r) in pieces.iter().zip(store.write(t.path(), &pieces)) {
        let done = r.expect("written");
        assert!(done.warnings.is_empty(), "{:?}", done.warnings);
        let path = t
            .path()
            .join(String::from_utf8_lossy(&p.item.path).as_ref());
        let m = fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o7777,
            p.item.mode.unwrap(),
            "{path:?}"
        );
        assert_eq!(m.mtime_nsec(), 3, "{path:?}");
        assert_eq!(fs::read(&path).unwrap(), b"contents");
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{path:?}");
    }
    if other_group {
        // The directory really did hand its group down (so the check above meant something).
        let probe = t.path().join("g/probe");
        fs::write(&probe, b"").unwrap();
        assert_eq!(fs::metadata(&probe).unwrap().gid(), 4322);
    }
}

/// The inode flags of the file at `path` (`None` where the file system has none).
fn flags_at(path: &Path) -> Option<u32> {
    let f = fs::File::open(path).unwrap();
    rustix::fs::ioctl_getflags(&f).ok().map(|f| f.bits())
}

#[test]
fn flags_are_exact_whether_the_directory_passes_some_on_or_not() {
    const NODUMP: u32 = 0x40;
    const EXTENTS: u32 = 0x8_0000;
    let t = TempDir::new("flags");
    for d in ["plain", "nodump"] {
        fs::create_dir(t.path().join(d)).unwrap();
    }
    // Files made in a folder marked nodump get the mark too (ext4, xfs, btrfs).
    let dir = fs::File::open(t.path().join("nodump")).unwrap();
    let Ok(f) = rustix::fs::ioctl_getflags(&dir) else {
        return; // no inode flags here
    };
    if rustix::fs::ioctl_setflags(
        &dir,
        rustix::fs::IFlags::from_bits_retain(f.bits() | NODUMP),
    )
    .is_err()
    {
        return;
    }
    let store = Store::new(&[b"some bytes".to_vec()]);
    let piece = |path: &str, flags: u32| {
        let mut p = whole(path, &[0], 10);
        p.item.flags = Some(flags);
        p
    };
    // Several files per folder, so that the batch reads each folder's flags.
    let pieces = [
        piece("plain/none", EXTENTS),
        piece("plain/marked", EXTENTS | NODUMP),
        piece("plain/none2", 0),
        piece("nodump/none", EXTENTS),
        piece("nodump/marked", NODUMP),
        piece("nodump/none2", 0),
    ];
    for r in store.write(t.path(), &pieces) {
        assert!(r.expect("written").warnings.is_empty());
    }
    // What decides whether a file's flags need an ioctl: read through a descriptor opened for
    // reading (an `O_PATH` one cannot read them, and then every file gets its ioctl).
    let path_fd = |d: &str| {
        rustix::fs::open(
            t.path().join(d),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    };
    assert!(dir_flags_clear(&path_fd("plain")));
    assert!(!dir_flags_clear(&path_fd("nodump")));
    assert!(!crate::fsmeta::restore::flags_clear(
        path_fd("plain").as_fd()
    ));
    let user = |p: &str| flags_at(&t.path().join(p)).expect("flags") & USER_MODIFIABLE_FLAGS;
    assert_eq!(user("plain/none"), 0);
    assert_eq!(user("plain/marked"), NODUMP);
    assert_eq!(user("plain/none2"), 0);
    assert_eq!(user("nodump/none"), 0, "the inherited mark is cleared");
    assert_eq!(user("nodump/none2"), 0, "the inherited mark is cleared");
    assert_eq!(user("nodump/marked"), NODUMP);
    assert_eq!(user("nodump"), NODUMP);
}
