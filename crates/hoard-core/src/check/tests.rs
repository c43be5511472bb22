use super::*;
use crate::codec::{self, Codec};
use crate::envelope::Session;
use crate::id::IdAlgorithm;
use crate::index_object::{self, IndexedPack};
use crate::keys::Suite;
use crate::pack::{FinishedPack, PackBuilder};

pub(crate) const ENC: [u8; 32] = [5; 32];
const ID_KEY: [u8; 32] = [6; 32];

fn data(seed: &str, len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut d);
    d
}

pub(crate) fn hasher(suite: Suite) -> IdHasher {
    let algorithm = if suite == Suite::Plaintext {
        IdAlgorithm::Blake3
    } else {
        IdAlgorithm::KeyedBlake3
    };
    IdHasher::new(algorithm, &ID_KEY)
}

/// A pack of a few chunks (random and compressible) and a tree, as a writer makes one.
pub(crate) fn sample_pack(suite: Suite, id: ChunkId) -> FinishedPack {
    let session = Session::new(suite, &ENC).expect("session");
    let ids = hasher(suite);
    let mut b = PackBuilder::new(id, 1 << 16);
    let mut text = b"compressible ".repeat(40);
    text.extend_from_slice(b"end");
    let blobs: [(u8, Vec<u8>); 4] = [
        (0, data("a", 300)),
        (0, text),
        (1, b"tree object bytes".to_vec()),
        (0, Vec::new()),
    ];
    for (t, plain) in &blobs {
        let frame = codec::compress(Codec::Lz4, plain).expect("compress");
        let sealed = session.seal(*t, &ids.id(plain), &frame).expect("seal");
        b.push(*t, &ids.id(plain), plain.len() as u32, &[&sealed])
            .expect("push");
    }
    b.finish(&session).expect("finish")
}

/// Everything `check` finds in `bytes`, read the way it reads a pack listed as `listed`.
fn problems(suite: Suite, id: &ChunkId, bytes: &[u8], listed: &[TocEntry]) -> Vec<String> {
    let opener = Opener::new(suite, &ENC);
    let lay = layout(listed).expect("layout");
    let tail_end = (lay.pack_len + 1).min(bytes.len());
    let tail = bytes
        .get(lay.blobs_end.min(tail_end)..tail_end)
        .unwrap_or(&[]);
    let mut out = check_structure(
        &opener,
        id,
        &bytes[..MAGIC.len().min(bytes.len())],
        tail,
        listed,
    );
    out.extend(
        verify_blobs(&opener, &hasher(suite), bytes, listed)
            .into_iter()
            .map(|p| format!("{} at {}", p.error, p.entry.offset)),
    );
    out
}

#[test]
fn the_layout_of_a_pack_follows_from_its_table() {
    let p = sample_pack(Suite::Aes256Gcm, [1; 32]);
    let lay = layout(&p.entries).expect("layout");
    assert_eq!(lay.pack_len, p.data.len());
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let toc = pack::read_toc(&opener, &p.id, &p.data).expect("toc");
    assert_eq!(toc, p.entries);
    let (start, len) =
        pack::toc_range(&p.data[p.data.len() - TRAILER_LEN..], p.data.len()).expect("range");
    assert_eq!((start, len), (lay.blobs_end, lay.toc_len));
    // An empty table still has a place.
    assert_eq!(
        layout(&[]).expect("empty").pack_len,
        MAGIC.len() + sealed_toc_len(0) + TRAILER_LEN
    );
}

#[test]
fn a_sound_pack_has_no_problems_in_any_suite() {
    for suite in Suite::ALL {
        let p = sample_pack(suite, [2; 32]);
        assert_eq!(
            problems(suite, &p.id, &p.data, &p.entries),
            Vec::<String>::new(),
            "{suite}"
        );
    }
}

#[test]
fn every_flipped_byte_of_a_pack_is_found() {
    for suite in [Suite::Aes256Gcm, Suite::Plaintext] {
        let p = sample_pack(suite, [3; 32]);
        for at in 0..p.data.len() {
            let mut bad = p.data.clone();
            bad[at] ^= 0x01;
            assert!(
                !problems(suite, &p.id, &bad, &p.entries).is_empty(),
                "{suite}: a flip at {at} of {} went unnoticed",
                p.data.len()
            );
        }
    }
}

#[test]
fn a_flipped_data_byte_names_its_blob_and_nothing_else() {
    let p = sample_pack(Suite::Aes256Gcm, [4; 32]);
    let second = p.entries[1];
    let mut bad = p.data.clone();
    bad[second.offset as usize + 30] ^= 0x80;
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let found = verify_blobs(&opener, &hasher(Suite::Aes256Gcm), &bad, &p.entries);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entry, second);
    assert_eq!(found[0].error.kind, ErrorKind::Integrity);
    // The structure (magic, trailer, table) is untouched.
    let lay = layout(&p.entries).expect("layout");
    assert!(
        check_structure(&opener, &p.id, &bad[..8], &bad[lay.blobs_end..], &p.entries).is_empty()
    );
}

#[test]
fn a_shorter_or_longer_pack_or_another_table_is_found() {
    let suite = Suite::Aes256Gcm;
    let p = sample_pack(suite, [5; 32]);
    let short = &p.data[..p.data.len() - 1];
    assert!(problems(suite, &p.id, short, &p.entries)[0].contains("shorter"));
    let mut long = p.data.clone();
    long.push(0);
    assert!(problems(suite, &p.id, &long, &p.entries)[0].contains("longer"));
    // The pack's own table under another pack's name does not open.
    let found = problems(suite, &[6; 32], &p.data, &p.entries);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("table of contents:"), "{found:?}");
    // An index object that lists other blobs disagrees with the table.
    let mut listed = p.entries.clone();
    listed[0].plain += 1;
    let found = problems(suite, &p.id, &p.data, &listed);
    assert!(
        found
            .iter()
            .any(|m| m.contains("differs from its index object")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|m| m.contains("decompresses to")),
        "{found:?}"
    );
    // Entries that do not follow each other are refused before anything is read.
    let mut gap = p.entries.clone();
    gap[1].offset += 1;
    let opener = Opener::new(suite, &ENC);
    let found = check_structure(&opener, &p.id, &p.data, &p.data, &gap);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("malformed"), "{found:?}");
}

#[test]
fn a_blob_sealed_under_an_id_that_is_not_its_hash_is_found() {
    let suite = Suite::Aes256Gcm;
    let session = Session::new(suite, &ENC).expect("session");
    let mut b = PackBuilder::new([7; 32], 1024);
    let plain = b"some chunk".to_vec();
    let wrong = [9u8; 32];
    let sealed = session
        .seal(
            0,
            &wrong,
            &codec::compress(Codec::None, &plain).expect("frame"),
        )
        .expect("seal");
    b.push(0, &wrong, plain.len() as u32, &[&sealed])
        .expect("push");
    // A blob of another type is not content addressed: only the seal counts.
    let other = session
        .seal(
            7,
            &wrong,
            &codec::compress(Codec::None, &plain).expect("frame"),
        )
        .expect("seal");
    b.push(7, &wrong, plain.len() as u32, &[&other])
        .expect("push");
    let p = b.finish(&session).expect("finish");
    let found = verify_blobs(
        &Opener::new(suite, &ENC),
        &hasher(suite),
        &p.data,
        &p.entries,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entry.obj_type, 0);
    assert!(found[0].error.message.contains("does not match its id"));
}

#[test]
fn every_flipped_byte_of_an_index_object_is_found() {
    let suite = Suite::ChaCha20Poly1305;
    let packs = vec![
        IndexedPack {
            id: [1; 32],
            entries: sample_pack(suite, [1; 32]).entries,
        },
        IndexedPack {
            id: [2; 32],
            entries: sample_pack(suite, [2; 32]).entries,
        },
    ];
    let session = Session::new(suite, &ENC).expect("session");
    let opener = Opener::new(suite, &ENC);
    let id = [8u8; 32];
    let sealed = index_object::seal(&session, &id, &packs).expect("seal");
    assert_eq!(
        index_object::open(&opener, &id, &sealed).expect("open"),
        packs
    );
    for at in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[at] ^= 0x10;
        assert!(
            index_object::open(&opener, &id, &bad).is_err(),
            "a flip at {at} of {} went unnoticed",
            sealed.len()
        );
    }
    for len in 0..sealed.len() {
        assert!(
            index_object::open(&opener, &id, &sealed[..len]).is_err(),
            "cut at {len}"
        );
    }
    assert!(
        index_object::open(&opener, &[9; 32], &sealed).is_err(),
        "another id"
    );
}

#[test]
fn every_flipped_byte_of_a_tree_archive_or_manifest_blob_is_found() {
    // Trees (1), archive objects (2) and manifest generations (3) are single sealed blobs: check
    // and repair open them as they are read, and every flip must fail that open.
    let suite = Suite::Aes256Gcm;
    let session = Session::new(suite, &ENC).expect("session");
    let opener = Opener::new(suite, &ENC);
    let ids = hasher(suite);
    for (t, plain) in [
        (1u8, b"a tree object".to_vec()),
        (2, br#"{"version":1,"name":"a"}"#.to_vec()),
        (3, br#"{"version":1,"seq":2,"archives":[]}"#.to_vec()),
    ] {
        let id = ids.id(&plain);
        let frame = codec::compress(Codec::Zstd(3), &plain).expect("frame");
        let sealed = session.seal(t, &id, &frame).expect("seal");
        assert_eq!(opener.open(t, &id, &sealed).expect("open"), frame);
        for at in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[at] ^= 0x20;
            assert!(
                opener.open(t, &id, &bad).is_err(),
                "type {t}: a flip at {at} of {} went unnoticed",
                sealed.len()
            );
        }
    }
}
