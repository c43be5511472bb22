//! The files of the client cache (chunk index, files cache): a magic, a body, and BLAKE3 of both
//! at the end, written atomically (temporary file, fsync, rename).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Appends the checksum to `out` (which starts with its magic) and writes it to `path` atomically.
pub fn write(path: &Path, mut out: Vec<u8>) -> Result<()> {
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let attempt = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    attempt().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, &e)
    })
}

/// Reads a file written by [`write`]: checks `magic` and the checksum, and returns the bytes
/// after the magic (without the checksum). `what` names the file in the error.
pub fn read(path: &Path, magic: &[u8; 8], what: &str) -> Result<Vec<u8>> {
    let mut data = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let bad = || Error::corrupt(format!("{}: damaged {what}", path.display()));
    if data.len() < magic.len() + 32 || &data[..magic.len()] != magic {
        return Err(bad());
    }
    let body_end = data.len() - 32;
    if blake3::hash(&data[..body_end]).as_bytes() != &data[body_end..] {
        return Err(bad());
    }
    data.truncate(body_end);
    data.drain(..magic.len());
    Ok(data)
}
