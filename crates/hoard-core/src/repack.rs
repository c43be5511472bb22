//! Repacking: compact's rewrite of packs whose dead share passed its threshold. The live blobs of
//! old packs are copied verbatim into new packs. A sealed blob is self-contained (its envelope
//! binds its type and id, not its place), so it moves without being opened or sealed again; only
//! each new pack's table of contents is sealed, by the repacker's session, under the new pack id.

use crate::envelope::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::pack::{self, ENTRY_LEN, FinishedPack, MAX_PACK, PackBuilder, TocEntry};

/// Room kept free in a pack for its table of contents and trailer, beyond the entries' own bytes.
const TOC_OVERHEAD: usize = 4096;

/// Copies blobs of old packs into new packs of about `pack_size` bytes each.
pub struct Repacker {
    session: Session,
    pack_size: usize,
    current: Option<PackBuilder>,
}

impl Repacker {
    /// A repacker that seals the new tables with `session` and closes a pack once it holds
    /// `pack_size` bytes (at least 1).
    pub fn new(session: Session, pack_size: usize) -> Self {
        Self {
            session,
            pack_size: pack_size.clamp(1, MAX_PACK / 2),
            current: None,
        }
    }

    fn builder(&mut self) -> Result<&mut PackBuilder> {
        if self.current.is_none() {
            let capacity = self.pack_size.saturating_add(1 << 20).min(MAX_PACK / 2);
            self.current = Some(PackBuilder::new(pack::random_id()?, capacity));
        }
        self.current
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "no pack being filled"))
    }

    fn close(&mut self) -> Result<Option<FinishedPack>> {
        match self.current.take() {
            Some(b) if !b.is_empty() => b.finish(&self.session).map(Some),
            _ => Ok(None),
        }
    }

    /// Copies the blobs that `entries` (from `source`'s own table of contents) name out of
    /// `source`, a whole old pack, in order; returns the packs that filled up meanwhile. An entry
    /// that does not lie inside `source` is an error and nothing of it is copied.
    pub fn copy(&mut self, source: &[u8], entries: &[TocEntry]) -> Result<Vec<FinishedPack>> {
        let mut blobs = Vec::with_capacity(entries.len());
        for e in entries {
            let start = e.offset as usize;
            let blob = start
                .checked_add(e.length as usize)
                .filter(|_| start >= pack::MAGIC.len())
                .and_then(|end| source.get(start..end))
                .ok_or_else(|| Error::corrupt("a table of contents entry lies outside its pack"))?;
            blobs.push((e, blob));
        }
        let mut done = Vec::new();
        for (e, blob) in blobs {
            let room = |b: &PackBuilder| {
                b.len() + blob.len() + (b.entry_count() + 1) * ENTRY_LEN + TOC_OVERHEAD <= MAX_PACK
            };
            if self
                .current
                .as_ref()
                .is_some_and(|b| !b.is_empty() && !room(b))
            {
                done.extend(self.close()?);
            }
            let builder = self.builder()?;
            if !room(builder) {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "a blob is too large for a pack",
                ));
            }
            builder.push(e.obj_type, &e.id, e.plain, &[blob])?;
            if builder.len() >= self.pack_size {
                done.extend(self.close()?);
            }
        }
        Ok(done)
    }

    /// Closes the pack being filled, if it holds anything.
    pub fn finish(&mut self) -> Result<Option<FinishedPack>> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Opener;
    use crate::keys::Suite;

    const ENC: [u8; 32] = [7; 32];

    fn blob_plain(i: usize) -> Vec<u8> {
        let mut d = vec![0u8; 100 + i * 37];
        blake3::Hasher::new()
            .update(&i.to_le_bytes())
            .finalize_xof()
            .fill(&mut d);
        d
    }

    /// An old pack of `n` sealed blobs (types alternate chunk/tree) and its table.
    fn old_pack(n: usize) -> (FinishedPack, Vec<Vec<u8>>) {
        let session = Session::new(Suite::Aes256Gcm, &ENC).expect("session");
        let mut b = PackBuilder::new(pack::random_id().expect("id"), 1 << 16);
        let mut plains = Vec::new();
        for i in 0..n {
            let plain = blob_plain(i);
            let id = *blake3::hash(&plain).as_bytes();
            let sealed = session.seal((i % 2) as u8, &id, &plain).expect("seal");
            b.push((i % 2) as u8, &id, plain.len() as u32, &[&sealed])
                .expect("push");
            plains.push(plain);
        }
        (b.finish(&session).expect("finish"), plains)
    }

    #[test]
    fn copied_blobs_open_unchanged_from_the_new_packs() {
        let opener = Opener::new(Suite::Aes256Gcm, &ENC);
        let (old, plains) = old_pack(12);
        let toc = pack::read_toc(&opener, &old.id, &old.data).expect("toc");
        assert_eq!(toc, old.entries);
        // Keep every other blob; small packs so that the copy spans several.
        let keep: Vec<TocEntry> = toc.iter().copied().step_by(2).collect();
        let mut r = Repacker::new(Session::new(Suite::Aes256Gcm, &ENC).expect("session"), 600);
        let mut packs = r.copy(&old.data, &keep).expect("copy");
        packs.extend(r.finish().expect("finish"));
        assert!(packs.len() >= 2, "{} packs", packs.len());
        assert!(r.finish().expect("again").is_none());
        let mut seen = Vec::new();
        for p in &packs {
            assert_ne!(p.id, old.id);
            let entries = pack::read_toc(&opener, &p.id, &p.data).expect("new toc");
            assert_eq!(entries, p.entries);
            for e in entries {
                let sealed = &p.data[e.offset as usize..(e.offset + e.length) as usize];
                let plain = opener.open(e.obj_type, &e.id, sealed).expect("open");
                assert_eq!(plain.len() as u32, e.plain);
                seen.push((e.obj_type, e.id, plain));
            }
        }
        let want: Vec<(u8, [u8; 32], Vec<u8>)> = keep
            .iter()
            .map(|e| {
                let i = toc.iter().position(|t| t.id == e.id).expect("in toc");
                (e.obj_type, e.id, plains[i].clone())
            })
            .collect();
        assert_eq!(seen, want, "every kept blob, in order, nothing else");
    }

    #[test]
    fn entries_outside_the_source_are_refused() {
        let (old, _) = old_pack(3);
        let mut r = Repacker::new(
            Session::new(Suite::Aes256Gcm, &ENC).expect("session"),
            1 << 20,
        );
        let mut bad = old.entries[2];
        bad.length += 1_000_000;
        assert!(r.copy(&old.data, &[old.entries[0], bad]).is_err());
        let mut before_magic = old.entries[0];
        before_magic.offset = 2;
        assert!(r.copy(&old.data, &[before_magic]).is_err());
        // Nothing of a refused call was copied.
        assert!(r.finish().expect("finish").is_none());
        // Every offset past the end is refused too.
        for offset in [old.data.len() as u32, u32::MAX] {
            let mut e = old.entries[1];
            e.offset = offset;
            assert!(r.copy(&old.data, &[e]).is_err(), "offset {offset}");
        }
    }

    #[test]
    fn an_empty_copy_makes_no_pack() {
        let (old, _) = old_pack(2);
        let mut r = Repacker::new(
            Session::new(Suite::Aes256Gcm, &ENC).expect("session"),
            1 << 20,
        );
        assert!(r.copy(&old.data, &[]).expect("copy").is_empty());
        assert!(r.finish().expect("finish").is_none());
    }
}
