use std::sync::{Arc, Mutex};

use super::*;
use crate::backup::WriterConfig;
use crate::chunk_index::ChunkIndex;
use crate::envelope::{self, Session};
use crate::id::{IdAlgorithm, IdHasher};
use crate::keys::Suite;
use crate::pack::FinishedPack;
use crate::pipeline::ChunkSettings;

const ENC: [u8; 32] = [5; 32];

fn writer(index: &Arc<Mutex<ChunkIndex>>, codec: &str) -> Writer {
    let config = WriterConfig {
        chunking: ChunkSettings {
            params: "buzhash,12,18,14,4095".parse().expect("params"),
            seed: [1; 32],
            ids: IdHasher::new(IdAlgorithm::KeyedBlake3, &[2; 32]),
        },
        codec: codec.parse().expect("codec"),
        pack_size: 1 << 20,
        queue: 1_000,
        staging: None,
    };
    Writer::new(
        config,
        Session::new(Suite::Aes256Gcm, &ENC).expect("session"),
        Arc::clone(index),
        None,
    )
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

/// Every blob of `packs` as fetched ranges: (pack number, 0, whole pack).
fn ranges<'a>(index: &Arc<Mutex<ChunkIndex>>, packs: &'a [FinishedPack]) -> Fetched<'a> {
    let ix = index.lock().expect("lock");
    Fetched::new(
        packs
            .iter()
            .map(|p| (ix.pack_number(&p.id).expect("pack"), 0, &p.data[..]))
            .collect(),
    )
}

/// Recompresses `ids` with writer `w`, from the places the index gives them now.
fn recompress(
    w: &Writer,
    index: &Arc<Mutex<ChunkIndex>>,
    packs: &[FinishedPack],
    ids: &[ChunkId],
    mode: Mode,
) -> Result<Totals> {
    let locs = crate::restore::snapshot(&index.lock().expect("lock"), ids.iter());
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    recompress_chunks(
        w,
        &opener,
        &|id| locs.get(id).copied(),
        &ranges(index, packs),
        ids,
        mode,
    )
}

fn codec_of(
    index: &Arc<Mutex<ChunkIndex>>,
    packs: &[FinishedPack],
    id: &ChunkId,
) -> (String, Vec<u8>) {
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let loc = index.lock().expect("lock").get(id).expect("placed");
    let blob = ranges(index, packs)
        .blob(loc.pack, loc.offset, loc.length)
        .expect("blob")
        .to_vec();
    let frame = opener.open(CHUNK_TYPE, id, &blob).expect("open");
    let name = codec::frame_codec(&frame).expect("codec").0.to_string();
    (
        name,
        codec::decompress(&frame, MAX_CHUNK).expect("decompress"),
    )
}

/// `len` bytes of `word` over and over: text that compresses.
fn repeated(word: &[u8], len: usize) -> Vec<u8> {
    word.iter().copied().cycle().take(len).collect()
}

#[test]
fn chunks_move_to_new_copies_under_the_same_id_and_if_different_skips_same_codec() {
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let text = repeated(b"hoard recompress ", 200_000);
    let mut noise = vec![0u8; 100_000];
    blake3::Hasher::new()
        .update(b"noise")
        .finalize_xof()
        .fill(&mut noise);
    let ids = [[7u8; 32], [8u8; 32]];
    let a = writer(&index, "lz4");
    a.store(CHUNK_TYPE, &ids[0], &text).expect("store");
    a.store(CHUNK_TYPE, &ids[1], &noise).expect("store");
    let mut packs = drain(&a);
    assert_eq!(codec_of(&index, &packs, &ids[0]).0, "lz4");
    let before = index.lock().expect("lock").get(&ids[0]).expect("placed");

    // zstd differs from lz4 for the text; the noise is stored uncompressed by both.
    let b = writer(&index, "zstd,3");
    let t = recompress(&b, &index, &packs, &ids, Mode::IfDifferent).expect("recompress");
    assert_eq!((t.recompressed, t.kept), (1, 1));
    assert_eq!(t.old_stored, u64::from(before.length));
    packs.extend(drain(&b));
    let after = index.lock().expect("lock").get(&ids[0]).expect("placed");
    assert_ne!(after.pack, before.pack);
    assert_eq!(u64::from(after.length), t.new_stored);
    assert_eq!(
        codec_of(&index, &packs, &ids[0]),
        ("zstd".to_string(), text.clone())
    );
    assert_eq!(
        codec_of(&index, &packs, &ids[1]),
        ("none".to_string(), noise.clone())
    );

    // Another zstd level: if-different keeps it, always stores it again.
    let c = writer(&index, "zstd,19");
    let t = recompress(&c, &index, &packs, &ids[..1], Mode::IfDifferent).expect("recompress");
    assert_eq!((t.recompressed, t.kept), (0, 1));
    let t = recompress(&c, &index, &packs, &ids[..1], Mode::Always).expect("recompress");
    assert_eq!((t.recompressed, t.kept), (1, 0));
    packs.extend(drain(&c));
    assert_eq!(codec_of(&index, &packs, &ids[0]).1, text);
}

#[test]
fn obfuscated_chunks_are_padded_once_and_if_different_keeps_them() {
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let text = repeated(b"obfuscate me ", 50_000);
    let id = [9u8; 32];
    let a = writer(&index, "lz4");
    a.store(CHUNK_TYPE, &id, &text).expect("store");
    let mut packs = drain(&a);
    let b = writer(&index, "obfuscate,6,lz4");
    let t = recompress(&b, &index, &packs, &[id], Mode::IfDifferent).expect("recompress");
    assert_eq!((t.recompressed, t.kept), (1, 0));
    // SPEC 6 pads to at least 1000 times the frame (the stored sizes hold the envelope too).
    let frame = t.old_stored - envelope::OVERHEAD as u64;
    assert!(t.new_stored > 1000 * frame, "{t:?}");
    packs.extend(drain(&b));
    assert_eq!(
        codec_of(&index, &packs, &id),
        ("obfuscate".to_string(), text.clone())
    );
    // Under another obfuscating spec, if-different keeps the obfuscated chunk.
    let c = writer(&index, "obfuscate,110,zstd,3");
    let t = recompress(&c, &index, &packs, &[id], Mode::IfDifferent).expect("recompress");
    assert_eq!((t.recompressed, t.kept), (0, 1));
}

#[test]
fn a_blob_that_was_not_fetched_or_is_damaged_fails_the_batch() {
    let index = Arc::new(Mutex::new(ChunkIndex::new()));
    let id = [9u8; 32];
    let a = writer(&index, "lz4");
    a.store(CHUNK_TYPE, &id, b"some data some data some data")
        .expect("store");
    let mut packs = drain(&a);
    let opener = Opener::new(Suite::Aes256Gcm, &ENC);
    let b = writer(&index, "zstd,3");
    let locs = crate::restore::snapshot(&index.lock().expect("lock"), [id].iter());
    let none = Fetched::new(Vec::new());
    assert!(
        recompress_chunks(
            &b,
            &opener,
            &|i| locs.get(i).copied(),
            &none,
            &[id],
            Mode::Always
        )
        .is_err()
    );
    let loc = locs.get(&id).copied().expect("placed");
    if let Some(p) = packs.first_mut() {
        p.data[loc.offset as usize + 30] ^= 1;
    }
    let fetched = ranges(&index, &packs);
    let e = recompress_chunks(
        &b,
        &opener,
        &|i| locs.get(i).copied(),
        &fetched,
        &[id],
        Mode::Always,
    )
    .expect_err("damaged");
    assert_eq!(e.kind, crate::ErrorKind::Integrity);
    assert!(e.message.contains(&hex(&id)));
}
